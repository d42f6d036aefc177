"""`contacts-relay check`, `service --systemd` and `chaos`: the commands of whoever runs the relay."""

from __future__ import annotations

import argparse
import shutil
import socket
import sys
import urllib.error
import urllib.request
from importlib import resources

from contacts_tui.core.display import json_line, visible
from contacts_tui.core.errors import ValidationError
from contacts_tui.core.mail import chaos
from contacts_tui.core.options import Options, open_directory

from ..config import ConfigError
from ..ops.health import directory_problem, spool_problem, upstream_problem
from .options import add_serve_arguments, config_from_args


def add_operate_commands(commands, common: argparse.ArgumentParser) -> None:
    check = commands.add_parser(
        "check",
        parents=[common],
        help="check a configuration, or a running relay, without starting one",
        description="Checks the options as serve reads them (the same options and RELAY_* variables), that the "
        "directory answers, that the spool can be written, that the upstream answers EHLO, and, with --metrics, "
        "what the running relay's /healthz says. Exit code 0 when all is well, 1 otherwise.",
    )
    add_serve_arguments(check)

    service = commands.add_parser("service", help="files to run the relay as a system service")
    service.add_argument("--systemd", action="store_true", required=True, help="print a systemd unit")
    service.add_argument("--env", action="store_true", help="print the sample environment file for it instead")

    rules = commands.add_parser("chaos", parents=[common], help="make a capture relay fail on purpose, for testers")
    actions = rules.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("set", parents=[common], help="add a rule: a reply for matching mail at a stage")
    add.add_argument("--stage", choices=chaos.STAGES, default="data", help="when to answer (default data)")
    add.add_argument("--reply", required=True, help="the SMTP reply, e.g. '451 4.3.0 Try again later'")
    add.add_argument("--sender", default="", help="only mail from this address (shell pattern: *@shop.example)")
    add.add_argument("--recipient", default="", help="only mail to this address (pattern)")
    add.add_argument("--category", default="", help="only this category or email type (pattern)")
    add.add_argument("--probability", type=float, default=1.0, help="share of matching mail to fail (default 1)")
    add.add_argument("--delay", type=float, default=0.0, help="seconds to wait before answering")
    listing = actions.add_parser("list", parents=[common], help="the rules in force")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    clear = actions.add_parser("clear", parents=[common], help="remove every rule, or one")
    clear.add_argument("id", type=int, nargs="?", help="the rule to remove (default: all)")


def run_operate_command(args: argparse.Namespace, options: Options) -> int:
    if args.command == "check":
        return _check(args, options)
    if args.command == "service":
        return _service(args)
    return _chaos(args, options)


def _check(args: argparse.Namespace, options: Options) -> int:
    config = config_from_args(args)  # a ConfigError says what is wrong with the options
    results = [("options", None)]
    results.append(("directory", directory_problem(options.db_url, options.catalog_path)))
    if not config.capture:
        results.append(("spool", spool_problem(config.spool_dir, config.max_size)))
        results.append(
            (
                "upstream",
                upstream_problem(
                    config.upstream_host or "", config.upstream_port, config.upstream_tls, config.hostname
                ),
            )
        )
    results.append(("listen address", _listen_problem(config)))
    if config.metrics_host:
        results.append(("running relay", _running_problem(config.metrics_host, config.metrics_port)))
    for what, problem in results:
        text = "ok" if problem is None else visible(problem.removeprefix(f"{what}: "))
        print(f"{what:15} {text}")
    return 0 if all(problem is None for _, problem in results) else 1


def _listen_problem(config) -> str | None:
    try:
        with socket.create_server((config.listen_host, config.listen_port)):
            return None
    except OSError as exc:
        if config.metrics_host:
            return None  # in use, as it should be when the relay runs: its /healthz says more
        return f"{config.listen_host}:{config.listen_port} cannot be listened on: {exc.strerror or exc}"


def _running_problem(host: str, port: int) -> str | None:
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return None if answer.status == 200 else f"{url}: {answer.status}"
    except urllib.error.HTTPError as error:
        return f"{url}: {error.code} " + "; ".join(error.read().decode(errors="replace").split("\n")).strip("; ")
    except OSError as exc:
        return f"{url}: no relay answers ({getattr(exc, 'reason', exc)})"


def _service(args: argparse.Namespace) -> int:
    folder = resources.files("relay") / "systemd"
    if args.env:
        sys.stdout.write((folder / "contacts-relay.env").read_text(encoding="utf-8"))
        return 0
    program = shutil.which("contacts-relay") or f"{sys.executable} -m relay.cli"
    unit = (folder / "contacts-relay.service").read_text(encoding="utf-8")
    sys.stdout.write(unit.replace("@CONTACTS_RELAY@", program))
    return 0


def _chaos(args: argparse.Namespace, options: Options) -> int:
    open_directory(options, must_exist=True)
    if args.action == "set":
        try:
            new = chaos.rule(
                args.stage, args.reply, args.sender, args.recipient, args.category, args.probability, args.delay
            )
        except ValidationError as exc:
            raise ConfigError(str(exc)) from None
        added = chaos.add_rule(new)
        print(f"Chaos rule {added.id}: {visible(added.describe())}. Capture relays apply it within a second.")
        return 0
    if args.action == "clear":
        gone = chaos.clear_rules(args.id)
        if args.id is not None and not gone:
            raise ConfigError(f"there is no chaos rule {args.id}")
        print(f"Removed {gone} chaos rule{'' if gone == 1 else 's'}.")
        return 0
    found = chaos.current_rules()
    if args.json:
        for rule in found:
            print(
                json_line(
                    {
                        "id": rule.id,
                        "stage": rule.stage,
                        "reply": rule.reply,
                        "sender": rule.sender,
                        "recipient": rule.recipient,
                        "category": rule.category,
                        "probability": rule.probability,
                        "delay": rule.delay,
                    }
                )
            )
        return 0
    if not found:
        print("No chaos rules: capture relays take all mail.")
    for rule in found:
        print(f"{rule.id:>4}  {visible(rule.describe())}")
    return 0
