"""`contacts-relay`: serve, preview, and look at what the relay did."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import Sequence

from contacts_tui.core.db import redact, resolve_url
from contacts_tui.core.errors import DirectoryError
from contacts_tui.core.settings import Settings, open_directory

from ..config import ConfigError
from ..server.access import AccessConfigError
from .inspect import add_inspect_commands, run_inspect_command
from .options import add_serve_arguments, config_from_args

DESCRIPTION = """\
An SMTP relay that copies the opted-in contact persons of a customer on every
notification tagged with a category header, then passes the mail on."""

EPILOG = """\
The contact directory: --db URL or CONTACTS_DB (default: the SQLite file that
contacts-tui uses), --catalog FILE or CONTACTS_CATALOG."""


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="URL", default=argparse.SUPPRESS, help="contact directory database URL (CONTACTS_DB; default the SQLite file contacts-tui uses)")
    common.add_argument("--catalog", metavar="FILE", default=argparse.SUPPRESS, help="notification catalog (TOML; CONTACTS_CATALOG)")
    parser = argparse.ArgumentParser(
        prog="contacts-relay", description=DESCRIPTION, epilog=EPILOG, parents=[common],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND", required=True)
    serve = commands.add_parser(
        "serve", parents=[common], help="run the relay",
        description="Accept mail, add the opted-in contact persons as Cc, and pass it on to --upstream "
        "(or store it with --capture). Answers 250 only once a message is safely on disk.",
    )
    serve.add_argument("-v", "--verbose", action="store_true", help="log every message, not just problems")
    add_serve_arguments(serve)
    add_inspect_commands(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env(getattr(args, "db", None), getattr(args, "catalog", None))
        if args.command == "serve":
            return _serve(args, settings)
        return run_inspect_command(args, settings)
    except (ConfigError, AccessConfigError, DirectoryError) as exc:
        print(f"contacts-relay: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from ..app import Relay

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s contacts-relay %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    # aiosmtpd logs every command line at INFO, AUTH credentials included.
    mail_log = logging.getLogger("mail.log")
    mail_log.setLevel(logging.WARNING)
    # ... and warns about its own deprecated Session.login_data, which it sets
    # itself on every successful AUTH: noise that looks like a fault.
    mail_log.addFilter(lambda record: "login_data is deprecated" not in record.getMessage())
    config = config_from_args(args)
    # A mistyped --db would be a new empty directory: every notification
    # passed on without its contacts, and nobody told.
    directory = open_directory(settings, must_exist=True)
    try:
        relay = Relay(config, directory)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot set up the relay: {exc}") from None
    return asyncio.run(_run(relay, redact(resolve_url(settings.db_url))))


async def _run(relay, database: str) -> int:
    from ..queue import SpoolError

    try:
        await relay.start()
    except SpoolError as exc:
        print(f"contacts-relay: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"contacts-relay: error: cannot listen on {_host(relay.config.listen_host)}:{relay.config.listen_port}: "
            f"{exc.strerror or exc}",
            file=sys.stderr,
        )
        await relay.stop(1)
        return 1
    config = relay.config
    target = "capture mode (nothing is sent)" if config.capture else (
        f"upstream {_host(config.upstream_host)}:{config.upstream_port} ({_UPSTREAM_TLS[config.upstream_tls]})"
    )
    queued = f", {relay.scheduler.queued} queued" if relay.scheduler else ""
    print(
        f"contacts-relay: listening on {_host(config.listen_host)}:{relay.port}, {target}"
        + (f", spool {config.spool_dir}{queued}" if not config.capture else "")
        + f", directory {database}",
        file=sys.stderr,
        flush=True,
    )
    if not config.capture and ("." not in config.hostname or config.hostname.endswith((".localdomain", ".localhost"))):
        print(
            f"contacts-relay: warning: this relay names itself {config.hostname!r} to the upstream and in Received "
            "headers; many mail servers refuse such a name: give --hostname (RELAY_HOSTNAME) this host's real name",
            file=sys.stderr,
            flush=True,
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    print("contacts-relay: stopping: finishing messages in flight; the rest stays in the spool", file=sys.stderr)
    await relay.stop()
    left = f"; {relay.scheduler.queued} message(s) stay in the spool" if relay.scheduler else ""
    print(f"contacts-relay: stopped{left}", file=sys.stderr)
    return 0


def _host(host: str | None) -> str:
    """An IPv6 address in brackets, as HOST:PORT options take it back."""
    return f"[{host}]" if host and ":" in host else str(host)


_UPSTREAM_TLS = {
    "opportunistic": "STARTTLS when offered",
    "starttls": "STARTTLS required",
    "tls": "implicit TLS",
    "none": "no TLS",
}

