"""The one command line: ``kafkaval <verb> ...``, thin over importable modules.

Each component registers its verbs in its own ``cli.py`` (a ``register``
function that adds subparsers whose handler is ``func(args, settings) -> int``).
Exit codes: 0 ok, 1 a check failed or a runtime failure, 2 a usage error.
Errors the user can cause are printed as one line, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import sys
from collections.abc import Sequence

from kafkaval.config import Settings, load_settings, parse_props
from kafkaval.errors import KafkavalError, UsageError
from kafkaval.redact import redact_text

# Modules with a ``register(subparsers, parent)`` function, in help order.
COMMAND_MODULES = [
    "stack.cli",
    "loadgen.cli",
    "chaos.cli",
    "exporter.cli",
    "report.cli",
    "scheduler.cli",
    "cdc.cli",
]


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing usage and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see --help)")


def common_options() -> argparse.ArgumentParser:
    """Flags every verb accepts: the top layer of the configuration."""
    parent = argparse.ArgumentParser(add_help=False)
    g = parent.add_argument_group("configuration (flags beat env beat file beat defaults)")
    g.add_argument(
        "--config", help="TOML config file (default: $KAFKAVAL_CONFIG or ./kafkaval.toml)"
    )
    g.add_argument("--bootstrap-servers", help="Kafka bootstrap servers host:port[,...]")
    g.add_argument("--prometheus-url", help="Prometheus base URL")
    g.add_argument(
        "--kafka-prop",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="librdkafka property for every client, passed through unchanged (repeatable); "
        "a value @file:PATH or @env:NAME is read from that file or variable",
    )
    g.add_argument("--results-dir", help="where run records are written")
    return parent


def settings_from_args(args: argparse.Namespace) -> Settings:
    overrides = {
        "bootstrap_servers": args.bootstrap_servers,
        "prometheus_url": args.prometheus_url,
        "results_dir": args.results_dir,
        "kafka": parse_props(args.kafka_prop) if args.kafka_prop else None,
    }
    # Verbs may add their own setting flags; they name them settings_<field>.
    for key, value in vars(args).items():
        if key.startswith("settings_"):
            overrides[key.removeprefix("settings_")] = value
    return load_settings(args.config, overrides=overrides)


def _version() -> str:
    """The installed distribution's version (a source tree that was never installed has none)."""
    try:
        return importlib.metadata.version("kafkaval")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="kafkaval",
        description="Measure a Kafka / Debezium pipeline and check it loses nothing.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    parent = common_options()
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub, parent)
    _metavars_from_flags(parser)
    return parser


def _metavars_from_flags(parser: argparse.ArgumentParser) -> None:
    """Name each flag's value after the flag (``--state-dir STATE_DIR``).

    argparse derives it from ``dest``, which for setting overrides is an internal
    name (``settings_state_dir``, ``cdcopt_pg_port``) that help must not show.
    """
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _metavars_from_flags(child)
        elif action.option_strings and action.metavar is None and action.choices is None:
            if action.nargs != 0:
                flag = max(action.option_strings, key=len)
                action.metavar = flag.lstrip("-").replace("-", "_").upper()


def main(argv: Sequence[str] | None = None) -> int:
    settings: Settings | None = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        settings = settings_from_args(args)
        return int(args.func(args, settings) or 0)
    except KafkavalError as e:
        # A message may quote a client error or a property; never a secret value.
        secrets = settings.secret_values() if settings is not None else []
        print(f"kafkaval: error: {redact_text(str(e), secrets)}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("kafkaval: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
