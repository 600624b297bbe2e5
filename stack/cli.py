"""``kafkaval stack up|down|status``: the local real stack."""

from __future__ import annotations

import argparse

from kafkaval.config import STACK_SECURITY_MODES, Settings
from stack import local


def _stack_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--brokers",
        dest="settings_brokers",
        type=int,
        choices=(1, 3),
        help="1 broker (default) or a 3-broker cluster",
    )
    p.add_argument(
        "--state-dir", dest="settings_state_dir", help="data, logs and pid files (default .stack)"
    )
    p.add_argument(
        "--security",
        dest="settings_stack_security",
        choices=STACK_SECURITY_MODES,
        help="sasl_ssl: clients reach the brokers over SASL_SSL with SCRAM-SHA-512 and a "
        "throwaway CA under the state dir (default none: PLAINTEXT)",
    )


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    stack = sub.add_parser("stack", help="start, stop or show the local Kafka + Prometheus stack")
    verbs = stack.add_subparsers(
        dest="stack_verb", metavar="up|down|status", parser_class=type(stack)
    )
    up = verbs.add_parser("up", parents=[parent], help="start the stack and wait until it serves")
    _stack_options(up)
    up.add_argument(
        "--unless-external",
        action="store_true",
        help="do nothing when bootstrap_servers point at another Kafka (the Make targets use it)",
    )
    up.set_defaults(func=cmd_up)
    down = verbs.add_parser("down", parents=[parent], help="stop every process the stack started")
    _stack_options(down)
    down.add_argument("--wipe", action="store_true", help="also delete data and logs")
    down.set_defaults(func=cmd_down)
    st = verbs.add_parser("status", parents=[parent], help="show the stack's processes")
    _stack_options(st)
    st.set_defaults(func=cmd_status)


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    if args.unless_external and not local.is_local_kafka(settings):
        print(
            f"using the configured Kafka {settings.bootstrap_servers} "
            "(not the local stack): nothing started"
        )
        return 0
    info = local.up(settings)
    print("stack already running" if info.already_running else "stack up")
    print(info.describe())
    return 0


def cmd_down(args: argparse.Namespace, settings: Settings) -> int:
    stopped = local.down(settings, wipe=args.wipe)
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    rows = local.status(settings)
    if not rows:
        print(f"no stack in {settings.path('state_dir')} (start one: kafkaval stack up)")
        return 1
    for name, state, pid, log in rows:
        print(f"{name:<12} {state:<8} pid {pid!s:<8} log {log}")
    return 0 if all(state == "running" for _, state, _, _ in rows) else 1
