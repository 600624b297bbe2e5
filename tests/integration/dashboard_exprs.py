"""Every panel, annotation and variable expression of the Grafana dashboards, and
what Grafana would send for it (shared by the local-stack and compose tests)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

DASHBOARDS = Path(__file__).resolve().parents[2] / "grafana" / "dashboards"


def substitute(expr: str, scrape_interval: float) -> str:
    """What Grafana sends: variables at "All" (.*), $__rate_interval at 4 scrapes."""
    expr = expr.replace("$__rate_interval", f"{max(4 * scrape_interval, 4):g}s")
    return re.sub(r"\$\w+", ".*", expr)


def expressions() -> list[tuple[str, str, str]]:
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text())
        panels: list[dict[str, Any]] = []
        for panel in dashboard["panels"]:
            panels += [panel, *panel.get("panels", [])]
        for panel in panels:
            for target in panel.get("targets", []):
                out.append((path.stem, f"{panel['title']} [{target['refId']}]", target["expr"]))
        for ann in dashboard["annotations"]["list"]:
            if ann.get("expr"):
                out.append((path.stem, f"annotation {ann['name']}", ann["expr"]))
        for var in dashboard["templating"]["list"]:
            if var["type"] != "query":
                continue  # the datasource picker: no PromQL
            query = var["query"]["query"]
            m = re.fullmatch(r"label_values\((.+), (\w+)\)", query)
            assert m, f"unexpected variable query {query}"
            out.append((path.stem, f"variable {var['name']}", f"group by ({m[2]}) ({m[1]})"))
    return out
