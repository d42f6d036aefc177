"""`contacts-tui portal`: the customer portal over SSH (this terminal) or in
browsers (--web), and turning a customer's sign-in off and on again."""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

from contacts_tui.core.db import resolve_url
from contacts_tui.core.directory.history import admin_actor
from contacts_tui.core.errors import DirectoryError
from contacts_tui.core.options import Options, open_directory
from contacts_tui.core.portal.signin import MailRoute, SignIn
from contacts_tui.core.process import at_least_one
from contacts_tui.core.validate import clean_email

MAIL_VIA_ENV = "CONTACTS_MAIL_VIA"
MAIL_FROM_ENV = "CONTACTS_MAIL_FROM"
DEFAULT_LISTEN = ("127.0.0.1", 8080)


def add_parser(commands, common: argparse.ArgumentParser, host_port: Callable[[str], tuple[str, int]]) -> None:
    portal = commands.add_parser(
        "portal",
        parents=[common],
        help="the customer portal: customers manage their own contact persons",
        description="Customers sign in with their primary email and a code mailed to it, then manage their "
        "own contact persons. Without --web it runs in this terminal (an SSH forced command); with --web it "
        "serves browsers. --disable and --enable stop or allow one customer's sign-in.",
    )
    portal.add_argument(
        "--mail-via",
        metavar="HOST:PORT",
        type=host_port,
        default=None,
        help=f"SMTP server the sign-in codes go through, e.g. the relay ({MAIL_VIA_ENV})",
    )
    portal.add_argument(
        "--mail-from",
        metavar="ADDRESS",
        default=None,
        help=f"sender of the code mails ({MAIL_FROM_ENV}; default portal@ this host's name)",
    )
    portal.add_argument("--web", action="store_true", help="serve the portal to browsers instead of this terminal")
    portal.add_argument(
        "--listen",
        metavar="HOST:PORT",
        type=host_port,
        default=None,
        help="with --web: where to listen (default 127.0.0.1:8080; put a TLS proxy in front)",
    )
    portal.add_argument(
        "--max-sessions",
        metavar="N",
        type=at_least_one,
        default=None,
        help="with --web: browser sessions open at once, each a process (default 50)",
    )
    access = portal.add_mutually_exclusive_group()
    access.add_argument("--disable", metavar="EMAIL", help="stop the customer with this primary email from signing in")
    access.add_argument("--enable", metavar="EMAIL", help="let that customer sign in again")
    # One browser session's process, as the web server starts it.
    portal.add_argument("--web-session", action="store_true", help=argparse.SUPPRESS)


def run_portal(options: Options, args: argparse.Namespace) -> int:
    if args.disable or args.enable:
        if args.web or args.mail_via or args.listen or args.max_sessions:
            raise DirectoryError("--disable and --enable change a setting and stop: give them without --web")
        return _set_access(options, args.disable or args.enable, enabled=bool(args.enable))
    if (args.listen or args.max_sessions) and not args.web:
        raise DirectoryError("--listen and --max-sessions are for --web")
    mail = _mail_settings(args)
    if args.web:
        return _serve(options, args, mail)
    _need_a_terminal()
    _log_quietly()
    directory = open_directory(options, must_exist=True)
    signin = SignIn(directory, mail)
    from contacts_tui.ui.portal.app import make_portal_app

    app = make_portal_app(signin, channel="web" if args.web_session else "ssh")
    try:
        app.run()
    finally:
        signin.wait_sent()
    if app.ended_idle:
        print("Signed out after 15 idle minutes.", file=sys.stderr)
    return 0


def _need_a_terminal() -> None:
    """The portal draws on a terminal; without one (ssh -T, a pipe) it says so
    in the customer's words, not the admin's."""
    if os.environ.get("TEXTUAL_DRIVER"):
        return  # a browser session: textual-serve's driver, over pipes
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise DirectoryError("the portal needs a terminal: connect with ssh -t, or open it in a browser")


def _set_access(options: Options, email: str, *, enabled: bool) -> int:
    address = clean_email(email)
    directory = open_directory(options, must_exist=True).as_actor(admin_actor("cli"))
    customer = directory.find_customer(address)
    if customer is None:
        raise DirectoryError(
            f"no customer has the primary email {address}; only a customer's primary email signs in "
            "(contact persons never do)"
        )
    directory.set_portal_access(customer.id, enabled)
    state = "may sign in to the portal again" if enabled else "can no longer sign in to the portal"
    print(f"{customer.name} <{customer.email}> {state}.")
    return 0


def _mail_settings(args: argparse.Namespace) -> MailRoute:
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


def _serve(options: Options, args: argparse.Namespace, mail: MailRoute) -> int:
    from contacts_tui.ui.portal.web_server import serve

    # The database must open before browsers are told to come; the portal
    # never starts an empty one at a mistyped path.
    open_directory(options, must_exist=True).database.close()
    # Each browser session is a process of its own, told its settings by the
    # environment: a database URL may hold a password, and command lines are
    # visible to every user of the machine.
    os.environ["CONTACTS_DB"] = resolve_url(options.db_url)
    os.environ[MAIL_VIA_ENV] = f"{mail.host}:{mail.port}"
    os.environ[MAIL_FROM_ENV] = mail.sender
    command = shlex.join([sys.executable, "-m", "contacts_tui.cli", "portal", "--web-session"])
    host, port = args.listen or DEFAULT_LISTEN
    serve(command, host, port, **({"max_sessions": args.max_sessions} if args.max_sessions else {}))
    return 0


def _log_quietly() -> None:
    """Warnings (a code mail that could not be sent) go to the system log: the
    terminal is the customer's screen, and they are not the customer's business."""
    logger = logging.getLogger("contacts_tui")
    logger.propagate = False
    handler: logging.Handler = logging.NullHandler()
    if Path("/dev/log").exists():
        try:
            handler = logging.handlers.SysLogHandler("/dev/log")
            handler.setFormatter(logging.Formatter("contacts-tui portal: %(message)s"))
        except OSError:
            pass  # a socket nobody listens on: no system log to write to
    logger.addHandler(handler)
