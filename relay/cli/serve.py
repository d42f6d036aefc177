"""`contacts-relay serve`: run the relay, with one process or several workers, until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

from contacts_tui.core.db import redact, resolve_url
from contacts_tui.core.options import Options, open_directory
from contacts_tui.core.process import version
from contacts_tui.core.validate import local_only_name

from ..config import ConfigError, upstream_name
from ..ops import metrics, process_log
from ..ops.endpoint import Endpoint
from .options import add_serve_arguments, config_from_args


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    serve = commands.add_parser(
        "serve",
        parents=[common],
        help="run the relay",
        description="Accept mail, add the opted-in contact persons as Cc, and pass it on to --upstream "
        "(or store it with --capture). Answers 250 only once a message is safely on disk.",
    )
    serve.add_argument("-v", "--verbose", action="store_true", help="log every message, not just problems")
    add_serve_arguments(serve)


def error(text: str) -> None:
    """A reason serve cannot go on, as the log writes it (one JSON object with --log-format json)."""
    process_log.event("error", text, logging.ERROR)


_held: dict[Path, int] = {}


def _hold_database(options: Options) -> None:
    """Tell 'contacts-tui restore' that a relay serves this SQLite file, until this process ends.

    Never closed by hand: closing a descriptor of the file would drop this
    process's SQLite locks on it (POSIX). Forked workers share it.
    """
    from contacts_tui.core.backup import hold_for_relay
    from contacts_tui.core.db import sqlite_file

    file = sqlite_file(options.db_url)
    if file is not None and file.resolve() not in _held:
        _held[file.resolve()] = hold_for_relay(file)


def run(args: argparse.Namespace, options: Options) -> int:
    from ..app import Relay, run_loop

    config = config_from_args(args)
    # A mistyped --db would be a new empty directory: every notification
    # passed on without its contacts, and nobody told.
    directory = open_directory(options, must_exist=True)
    database = redact(resolve_url(options.db_url))
    _hold_database(options)
    if config.workers > 1:
        # The workers open the database themselves; nothing open crosses the fork.
        close = getattr(directory.database, "close_all", None) or directory.database.close
        close()
        return _serve_workers(config, options, database)
    registry = metrics.enable() if config.metrics_host else None
    try:
        relay = Relay(config, directory)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot set up the relay: {exc}") from None
    relay.directory_url, relay.catalog_path = options.db_url, options.catalog_path
    endpoint = None
    if registry is not None and config.metrics_host is not None:
        try:
            endpoint = Endpoint(config.metrics_host, config.metrics_port, registry, relay.health).start()
        except OSError as exc:
            raise ConfigError(
                f"cannot serve --metrics on {config.metrics_host}:{config.metrics_port}: {exc.strerror or exc}"
            ) from None
    try:
        return run_loop(_run(relay, database, endpoint))
    finally:
        if endpoint is not None:
            endpoint.stop()


async def _run(relay, database: str, endpoint: Endpoint | None = None) -> int:
    from ..inbox.server import InboxListenError
    from ..queue import SpoolError

    try:
        await relay.start()
    except SpoolError as exc:
        error(str(exc))
        return 1
    except InboxListenError as exc:
        error(str(exc))
        await relay.stop(1)
        return 1
    except OSError as exc:
        _cannot_listen(relay.config, exc)
        await relay.stop(1)
        return 1
    # Signals first: whoever starts the relay may stop it as soon as it says it listens.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    _say_started(relay.config, relay.port, database, relay.queued if relay.scheduler else None)
    if relay.inbox is not None:
        _say_inbox(relay.config, relay.inbox.port)
    if endpoint is not None:
        _say_endpoint(endpoint)
    await stop.wait()
    _say_stopping()
    await relay.stop()
    _say_stopped(relay.config)
    return 0


def _serve_workers(config, options: Options, database: str) -> int:
    from ..supervisor import Supervisor, listening_socket

    try:
        sock = listening_socket(config)
    except OSError as exc:
        _cannot_listen(config, exc)
        return 1
    http_sock = None
    if config.http_host is not None:
        try:
            http_sock = listening_socket(config, (config.http_host, config.http_port))
        except OSError as exc:
            sock.close()
            error(f"cannot serve --http on {_host(config.http_host)}:{config.http_port}: {exc.strerror or exc}")
            return 1
    # Counted before the workers start: they deliver at once, so a count
    # after would say how many were left, not how many waited.
    queued = None if config.capture else _waiting(config)
    supervisor = Supervisor(config, options, sock, config.workers, http_sock)
    try:
        supervisor.start()
    except RuntimeError as exc:
        error(str(exc))
        return 1
    endpoint = None
    if supervisor.metrics_dir:
        try:
            endpoint = Endpoint(
                config.metrics_host,
                config.metrics_port,
                metrics.multiprocess_registry(supervisor.metrics_dir),
                supervisor.health,
            ).start()
        except OSError as exc:
            supervisor.stop()
            error(f"cannot serve --metrics on {config.metrics_host}:{config.metrics_port}: {exc.strerror or exc}")
            return 1
    port = sock.getsockname()[1]
    supervisor.catch_signals()
    _say_started(config, port, database, queued, config.workers)
    if http_sock is not None:
        _say_inbox(config, http_sock.getsockname()[1])
    if endpoint is not None:
        _say_endpoint(endpoint)
    code = supervisor.run(_say_stopping)
    if endpoint is not None:
        endpoint.stop()
    _say_stopped(config)
    return code


def _waiting(config) -> int:
    from ..queue import read_queue
    from ..queue.layout import all_spools

    return sum(len(read_queue(spool)) for spool in all_spools(config.spool_dir))


def _say_inbox(config, port: int) -> None:
    base = f"http://{_host(config.http_host)}:{port}"
    process_log.event(
        "inbox",
        f"web inbox on {base}/, Mailpit's API on /api/v1"
        + (", users from " + str(config.http_auth) if config.http_auth else ""),
        inbox=f"{base}/",
    )


def _say_endpoint(endpoint: Endpoint) -> None:
    base = f"http://{_host(endpoint.host)}:{endpoint.port}"
    process_log.event(
        "metrics",
        f"metrics on {base}/metrics, health on {base}/healthz",
        metrics=f"{base}/metrics",
        health=f"{base}/healthz",
    )


def _say_stopping() -> None:
    process_log.event("stopping", "stopping: finishing messages in flight; the rest stays in the spool")


def _cannot_listen(config, exc: OSError) -> None:
    error(f"cannot listen on {_host(config.listen_host)}:{config.listen_port}: {exc.strerror or exc}")


def _say_started(config, port: int, database: str, queued: int | None, workers: int = 1) -> None:
    upstreams = [upstream_name(host, port) for host, port in config.upstreams]
    target = (
        "capture mode (nothing is sent)"
        if config.capture
        else (
            ("upstream " if len(upstreams) == 1 else "upstreams in order ")
            + ", ".join(upstreams)
            + f" ({_UPSTREAM_TLS[config.upstream_tls]}"
            + (f", at most {config.upstream_rate} recipients each" if config.upstream_rate else "")
            + ")"
        )
    )
    listen = f"{_host(config.listen_host)}:{port}"
    process_log.event(
        "listening",
        f"listening on {listen}, {target}"
        + (f", spool {config.spool_dir}, {queued} queued" if queued is not None else "")
        + (f", {workers} worker processes" if workers > 1 else "")
        + f", directory {database}",
        listen=listen,
        upstreams=upstreams,
        capture=config.capture,
        spool=None if config.capture else str(config.spool_dir),
        queued=queued,
        workers=workers,
        directory=database,
        version=version(),
    )
    if not config.capture and local_only_name(config.hostname):
        process_log.event(
            "hostname",
            f"this relay names itself {config.hostname!r} to the upstream and in Received headers; many mail "
            "servers refuse such a name: give --hostname (RELAY_HOSTNAME) this host's real name",
            logging.WARNING,
        )


def _say_stopped(config) -> None:
    if config.capture:
        process_log.event("stopped", "stopped")
        return
    waiting = _waiting(config)
    process_log.event("stopped", f"stopped; {waiting} message(s) stay in the spool", queued=waiting)


def _host(host: str | None) -> str:
    """An IPv6 address in brackets, as HOST:PORT options take it back."""
    return f"[{host}]" if host and ":" in host else str(host)


_UPSTREAM_TLS = {
    "opportunistic": "STARTTLS when offered",
    "starttls": "STARTTLS required",
    "tls": "implicit TLS",
    "none": "no TLS",
}
