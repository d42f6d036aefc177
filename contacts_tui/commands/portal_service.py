"""`contacts-tui portal-service`: the one process of the portal that opens the
database, run as the owner of the data; the portal's SSH and browser
sessions reach it over its Unix sockets (see core/portal)."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from contacts_tui.core.errors import DirectoryError
from contacts_tui.core.options import Options, open_directory
from contacts_tui.core.portal.signin import MailRoute, SignIn, local_sender
from contacts_tui.core.validate import clean_email, local_only_name

MAIL_VIA_ENV = "CONTACTS_MAIL_VIA"
MAIL_FROM_ENV = "CONTACTS_MAIL_FROM"


def add_parser(commands, common: argparse.ArgumentParser, host_port: Callable[[str], tuple[str, int]]) -> None:
    service = commands.add_parser(
        "portal-service",
        parents=[common],
        help="the customer portal's service: owns the database for the portal's sessions",
        description="Run as the owner of the data. The portal over SSH (contacts-tui portal --socket) and its "
        "browser sessions (portal --web) hold no key to the database: they ask this service, over its Unix "
        "sockets, for exactly what a signed-in customer may do. It mails the sign-in codes, keeps the "
        "sessions and records every change in the history.",
    )
    service.add_argument("--socket", metavar="PATH", help="the socket of the portal over SSH (the ssh channel)")
    service.add_argument("--group", metavar="NAME", help="the group that may connect to --socket (mode 0660)")
    service.add_argument("--web-socket", metavar="PATH", help="the socket of the browser sessions (the web channel)")
    service.add_argument("--web-group", metavar="NAME", help="the group that may connect to --web-socket")
    service.add_argument(
        "--mail-via",
        metavar="HOST:PORT",
        type=host_port,
        default=None,
        help=f"SMTP server the sign-in codes go through, e.g. the relay ({MAIL_VIA_ENV})",
    )
    service.add_argument(
        "--mail-from",
        metavar="ADDRESS",
        default=None,
        help=f"sender of the code mails ({MAIL_FROM_ENV}; default: the one 'contacts-tui settings --mail-from' "
        "stored, else portal@ this host's name)",
    )
    service.add_argument("--systemd", action="store_true", help="print a systemd unit for the service and stop")


def run_portal_service(options: Options, args: argparse.Namespace) -> int:
    if args.systemd:
        return _unit()
    from contacts_tui.core.portal.server import Listener, run
    from contacts_tui.core.portal.service import PortalService

    if not args.socket and not args.web_socket:
        raise DirectoryError("give --socket PATH (the portal over SSH), --web-socket PATH (browsers), or both")
    if args.group and not args.socket or args.web_group and not args.web_socket:
        raise DirectoryError("--group is for --socket, --web-group for --web-socket")
    listeners = [
        Listener(Path(path), channel, group)
        for path, channel, group in ((args.socket, "ssh", args.group), (args.web_socket, "web", args.web_group))
        if path
    ]
    if len({listener.path.resolve() for listener in listeners}) < len(listeners):
        raise DirectoryError("--socket and --web-socket must be two paths: the socket tells the channel")
    mail = mail_route(args)
    directory = open_directory(options, must_exist=True)
    logging.basicConfig(level=logging.INFO, format="contacts-tui portal-service: %(message)s", stream=sys.stderr)
    signin = SignIn(directory, mail)
    sender = signin.route.from_address
    if local_only_name(sender.rpartition("@")[2]):
        logging.getLogger("contacts_tui").warning("warning: %s", local_sender(sender))
    run(PortalService(signin), listeners)
    return 0


def mail_route(args: argparse.Namespace) -> MailRoute:
    via = args.mail_via
    if via is None:
        value = os.environ.get(MAIL_VIA_ENV, "").strip()
        host, _, port = value.rpartition(":")
        if not value:
            raise DirectoryError(
                f"the portal mails sign-in codes: give --mail-via HOST:PORT (or {MAIL_VIA_ENV}), e.g. the relay"
            )
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise DirectoryError(f"{MAIL_VIA_ENV}: {value!r} is not HOST:PORT")
        via = (host.strip("[]"), int(port))
    sender = args.mail_from or os.environ.get(MAIL_FROM_ENV, "").strip()
    if sender:
        sender = clean_email(sender, "--mail-from")
    return MailRoute(via[0], via[1], sender)


def _unit() -> int:
    program = shutil.which("contacts-tui") or f"{sys.executable} -m contacts_tui.cli"
    unit = (resources.files("contacts_tui") / "systemd" / "contacts-portal.service").read_text(encoding="utf-8")
    sys.stdout.write(unit.replace("@CONTACTS_TUI@", program))
    return 0
