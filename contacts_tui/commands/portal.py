"""`contacts-tui portal`: the customer portal over SSH (this terminal) or in
browsers (--web), and turning a customer's sign-in off and on again.

The portal itself never opens the database: it asks the portal service
(`contacts-tui portal-service`, run as the owner of the data) over its
socket, which is all the portal's account needs to reach."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable

from contacts_tui.core.crash import crash_line, report_crash
from contacts_tui.core.directory.history import admin_actor
from contacts_tui.core.errors import DirectoryError
from contacts_tui.core.options import Options, open_directory
from contacts_tui.core.portal.client import PortalClient, ServiceUnavailable, guard_process
from contacts_tui.core.portal.language import from_environment, say
from contacts_tui.core.process import at_least_one, cap_memory, duration
from contacts_tui.core.times import local_time
from contacts_tui.core.validate import clean_email
from contacts_tui.ui.portal import limits

from .portal_log import LOG_FILE_ENV, log_quietly

SOCKET_ENV = "CONTACTS_PORTAL_SOCKET"
DEFAULT_LISTEN = ("127.0.0.1", 8080)
MAIL_MOVED = (
    "the portal no longer mails the sign-in codes itself: give --mail-via and --mail-from to "
    "contacts-tui portal-service, which does"
)
# What a browser session's process must not inherit: the portal reaches the
# data only through the service, and a session a customer took over would
# find a database password here.
_NOT_FOR_SESSIONS = ("CONTACTS_DB", "PGPASSWORD", "PGPASSFILE", "PGSERVICEFILE")


def add_parser(commands, common: argparse.ArgumentParser, host_port: Callable[[str], tuple[str, int]]) -> None:
    portal = commands.add_parser(
        "portal",
        parents=[common],
        help="the customer portal: customers manage their own contact persons",
        description="Customers sign in with their primary email and a code mailed to it, then manage their "
        "own contact persons. Without --web it runs in this terminal (an SSH forced command); with --web it "
        "serves browsers. Either way it reaches the data only through the portal service's socket "
        "(contacts-tui portal-service). --disable and --enable stop or allow one customer's sign-in; --unlock "
        "lets a customer that asked for too many codes ask for a new one at once.",
    )
    portal.add_argument(
        "--socket",
        metavar="PATH",
        default=None,
        help=f"the portal service's socket: its --socket for SSH, its --web-socket with --web ({SOCKET_ENV})",
    )
    # Moved to portal-service; kept so an old forced command is told where.
    portal.add_argument("--mail-via", default=None, help=argparse.SUPPRESS)
    portal.add_argument("--mail-from", default=None, help=argparse.SUPPRESS)
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
    portal.add_argument(
        "--max-per-client",
        metavar="N",
        type=at_least_one,
        default=None,
        help=f"with --web: sessions one client address may hold at once (default {limits.MAX_PER_CLIENT})",
    )
    portal.add_argument(
        "--trust-proxy",
        action="store_true",
        help="with --web: the client's address is the last one in X-Forwarded-For, as the reverse proxy in "
        "front adds it (without it, the address the connection comes from)",
    )
    portal.add_argument(
        "--public-url",
        metavar="URL",
        default=None,
        help="with --web: the address browsers use behind a reverse proxy, e.g. https://portal.example.com; "
        "requests for any other host name are refused",
    )
    portal.add_argument(
        "--sign-in-timeout",
        metavar="TIME",
        type=duration,
        default=limits.SIGN_IN_SECONDS,
        help="a session nobody has signed in to ends after this long without a key (default 2m)",
    )
    portal.add_argument(
        "--session-lifetime",
        metavar="TIME",
        type=duration,
        default=limits.LIFETIME_SECONDS,
        help="every session ends this long after it started (default 60m; the service ends a sign-in "
        "60 minutes after it, whatever this says)",
    )
    portal.add_argument(
        "--session-memory",
        metavar="MIB",
        type=at_least_one,
        default=limits.SESSION_MEMORY_MIB,
        help=f"the memory one session may use, in MiB (default {limits.SESSION_MEMORY_MIB})",
    )
    portal.add_argument(
        "--log-file",
        metavar="FILE",
        default=None,
        help=f"where sessions log (a crash's details) instead of the system log ({LOG_FILE_ENV})",
    )
    access = portal.add_mutually_exclusive_group()
    access.add_argument("--disable", metavar="EMAIL", help="stop the customer with this primary email from signing in")
    access.add_argument("--enable", metavar="EMAIL", help="let that customer sign in again")
    access.add_argument(
        "--unlock",
        metavar="EMAIL",
        help="let the customer with this primary email ask for a sign-in code now (3 an hour is the most)",
    )
    # One browser session's process, as the web server starts it.
    portal.add_argument("--web-session", action="store_true", help=argparse.SUPPRESS)
    # With --web-session: the warmed parent the server forks sessions from, asked on this descriptor.
    portal.add_argument("--sessions-parent", metavar="FD", type=int, default=None, help=argparse.SUPPRESS)
    # With --web: each session a new interpreter, as before the warmed parent (the benchmark's baseline).
    portal.add_argument("--cold-sessions", action="store_true", help=argparse.SUPPRESS)


WEB_ONLY = ("listen", "max_sessions", "max_per_client", "trust_proxy", "public_url", "cold_sessions")


def run_portal(options: Options, args: argparse.Namespace) -> int:
    if args.disable or args.enable or args.unlock:
        if args.web or args.socket or any(getattr(args, name) for name in WEB_ONLY):
            raise DirectoryError("--disable, --enable and --unlock change a setting and stop: give them without --web")
        if args.unlock:
            return _unlock(options, args.unlock)
        return _set_access(options, args.disable or args.enable, enabled=bool(args.enable))
    if args.mail_via or args.mail_from:
        raise DirectoryError(MAIL_MOVED)
    given = [f"--{name.replace('_', '-')}" for name in WEB_ONLY if getattr(args, name)]
    if given and not args.web:
        raise DirectoryError(f"{', '.join(given)}: these options are for --web")
    client = PortalClient(_socket_path(args))
    if args.web:
        return _serve(client, args)
    if args.web_session and args.sessions_parent is not None:
        from contacts_tui.ui.portal.web_forks import serve_forks

        return serve_forks(args.sessions_parent, lambda: _forked_session(client, args))
    return _run_session(client, args)


def _forked_session(client: PortalClient, args: argparse.Namespace) -> int:
    """A session forked from the warmed parent: as a cold one, its errors said as the command line says them."""
    try:
        return _run_session(client, args)
    except DirectoryError as error:
        print(f"contacts-tui: error: {error}", file=sys.stderr)
        return 1


def _run_session(client: PortalClient, args: argparse.Namespace) -> int:
    """One customer's session, in this terminal (SSH) or for the web server (--web-session)."""
    # ctrl+c before the app has the terminal does nothing (once it has, the
    # key ends the session): an interrupted start showed a traceback to
    # whoever connected.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Until the customer is known: the browser's language (web: the session's
    # environment, which a forked session is given as its own) or the terminal's (ssh's LANG).
    language = from_environment(os.environ)
    _need_a_terminal()
    log_quietly(args.log_file)
    try:
        cap_memory(args.session_memory)
        guard_process()
        if not args.web_session:
            _check_service(client)
        from contacts_tui.ui.portal.app import make_portal_app

        app = make_portal_app(
            client, sign_in_seconds=args.sign_in_timeout, lifetime_seconds=args.session_lifetime, language=language
        )
        try:
            app.run()
        finally:
            if app.directory is not None:
                app.directory.sign_out()  # the token dies now, not after 15 idle minutes
    except (DirectoryError, SystemExit):
        raise
    except BaseException as error:  # noqa: BLE001 - whatever it is, the customer gets one line
        print(say(crash_line(report_crash(error), isinstance(error, MemoryError)), language), file=sys.stderr)
        return 1
    return app.return_code or 0


def _socket_path(args: argparse.Namespace) -> str:
    path = args.socket or os.environ.get(SOCKET_ENV, "").strip()
    if not path:
        raise DirectoryError(
            f"give --socket PATH (or {SOCKET_ENV}): the socket of the portal service "
            "(contacts-tui portal-service), the portal's only way to the data"
        )
    return path


def _check_service(client: PortalClient) -> None:
    """Before drawing anything: a customer is told in a line that the portal is
    down, the system log says where and why."""
    try:
        client.hello()
    except ServiceUnavailable as exc:
        logging.getLogger("contacts_tui").warning("%s", exc)
        raise DirectoryError(
            "the portal is not available right now (its service does not answer); try again in a few minutes"
        ) from None


def _need_a_terminal() -> None:
    """The portal draws on a terminal; without one (ssh -T, a pipe) it says so
    in the customer's words, not the admin's."""
    if os.environ.get("TEXTUAL_DRIVER"):
        return  # a browser session: textual-serve's driver, over pipes
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise DirectoryError("the portal needs a terminal: connect with ssh -t, or open it in a browser")


def _customer(options: Options, email: str):
    """The directory as this admin, and the customer whose primary email ``email`` is."""
    address = clean_email(email)
    directory = open_directory(options, must_exist=True).as_actor(admin_actor("cli"))
    customer = directory.find_customer(address)
    if customer is None:
        raise DirectoryError(
            f"no customer has the primary email {address}; only a customer's primary email signs in "
            "(contact persons never do)"
        )
    return directory, customer


def _set_access(options: Options, email: str, *, enabled: bool) -> int:
    directory, customer = _customer(options, email)
    directory.set_portal_access(customer.id, enabled)
    state = "may sign in to the portal again" if enabled else "can no longer sign in to the portal"
    print(f"{customer.name} <{customer.email}> {state}.")
    return 0


def _unlock(options: Options, email: str) -> int:
    directory, customer = _customer(options, email)
    until = directory.unlock_portal(customer.id)
    if until is None:
        print(f"{customer.name} <{customer.email}> is not locked out: it may ask for a sign-in code.")
    else:
        print(
            f"{customer.name} <{customer.email}> may ask for a sign-in code now "
            f"(it had as many as an hour allows, until {local_time(until)})."
        )
    return 0


def _serve(client: PortalClient, args: argparse.Namespace) -> int:
    from contacts_tui.ui.portal.web_access import public_url_problem
    from contacts_tui.ui.portal.web_server import WebOptions, serve

    if args.public_url and (problem := public_url_problem(args.public_url)):
        raise DirectoryError(f"--public-url: {problem}")
    # The service must answer before browsers are told to come.
    try:
        client.hello()
    except ServiceUnavailable as exc:
        raise DirectoryError(f"{exc}; start contacts-tui portal-service first") from None
    # Each browser session is a process of its own, told the socket by the
    # environment, and nothing that opens the database.
    os.environ[SOCKET_ENV] = client.path
    if args.log_file:
        os.environ[LOG_FILE_ENV] = os.path.abspath(args.log_file)
    for name in _NOT_FOR_SESSIONS:
        os.environ.pop(name, None)
    session = [sys.executable, "-m", "contacts_tui.cli", "portal", "--web-session"]
    session += ["--sign-in-timeout", f"{args.sign_in_timeout:g}", "--session-lifetime", f"{args.session_lifetime:g}"]
    session += ["--session-memory", str(args.session_memory)]
    host, port = args.listen or DEFAULT_LISTEN
    given = {
        "max_sessions": args.max_sessions,
        "max_per_client": args.max_per_client,
        "public_url": args.public_url,
        "lifetime_seconds": args.session_lifetime,
        "trust_proxy": args.trust_proxy,
        "fork_sessions": not args.cold_sessions,
    }
    serve(session, host, port, WebOptions(**{name: value for name, value in given.items() if value is not None}))
    return 0
