"""Generate the Grafana dashboards in grafana/dashboards/*.json.

The JSON is generated, not hand-edited, so every panel's PromQL stays readable
in ``boards/`` (one module per dashboard, the shared builders in
``boards/panels.py``). Every panel's datasource is the ``datasource`` template variable, whose
default is the provisioned datasource's pinned uid: the files work as they are
with the provisioning here, and a user who imports one into their own Grafana
picks their Prometheus in the variable (``__inputs`` would not do: file
provisioning does not resolve them). ``job`` and ``instance`` variables narrow
every query to the scrape targets wanted (a Prometheus that also scrapes
cAdvisor holds the same container series under another job).
Regenerate after a change: ``python grafana/generate.py``; a unit test checks
the committed files equal the output.

Metric names: docs/metrics.md.
"""

from pathlib import Path

# Run as a script, this folder is on sys.path: the boards package sits next to it.
from boards import render_all

HERE = Path(__file__).resolve().parent
DASHBOARDS = HERE / "dashboards"

if __name__ == "__main__":
    DASHBOARDS.mkdir(exist_ok=True)
    for name, text in render_all().items():
        (DASHBOARDS / name).write_text(text)
        print(f"wrote {DASHBOARDS / name}")
