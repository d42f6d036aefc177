"""`contacts-relay serve`: run the relay, with one process or several workers, until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from contacts_tui.core.db import redact, resolve_url
from contacts_tui.core.options import Options, open_directory

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


def run(args: argparse.Namespace, options: Options) -> int:
    from ..app import Relay, run_loop

    config = config_from_args(args)
    process_log.configure(args.verbose, config.log_format)
    # A mistyped --db would be a new empty directory: every notification
    # passed on without its contacts, and nobody told.
    directory = open_directory(options, must_exist=True)
    database = redact(resolve_url(options.db_url))
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
    if registry is not None:
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
        print(f"contacts-relay: error: {exc}", file=sys.stderr)
        return 1
    except InboxListenError as exc:
        print(f"contacts-relay: error: {exc}", file=sys.stderr)
        await relay.stop(1)
        return 1
    except OSError as exc:
        _cannot_listen(relay.config, exc)
        await relay.stop(1)
        return 1
    _say_started(relay.config, relay.port, database, relay.queued if relay.scheduler else None)
    if relay.inbox is not None:
        _say_inbox(relay.config, relay.inbox.port)
    if endpoint is not None:
        _say_endpoint(endpoint)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    print("contacts-relay: stopping: finishing messages in flight; the rest stays in the spool", file=sys.stderr)
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
            print(
                f"contacts-relay: error: cannot serve --http on {_host(config.http_host)}:{config.http_port}: "
                f"{exc.strerror or exc}",
                file=sys.stderr,
            )
            return 1
    supervisor = Supervisor(config, options, sock, config.workers, http_sock)
    try:
        supervisor.start()
    except RuntimeError as exc:
        print(f"contacts-relay: error: {exc}", file=sys.stderr)
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
            print(
                f"contacts-relay: error: cannot serve --metrics on {config.metrics_host}:{config.metrics_port}: "
                f"{exc.strerror or exc}",
                file=sys.stderr,
            )
            return 1
    port = sock.getsockname()[1]
    _say_started(config, port, database, None if config.capture else _waiting(config), config.workers)
    if http_sock is not None:
        _say_inbox(config, http_sock.getsockname()[1])
    if endpoint is not None:
        _say_endpoint(endpoint)
    code = supervisor.run(
        lambda: print(
            "contacts-relay: stopping: finishing messages in flight; the rest stays in the spool",
            file=sys.stderr,
            flush=True,
        )
    )
    if endpoint is not None:
        endpoint.stop()
    _say_stopped(config)
    return code


def _waiting(config) -> int:
    from ..queue import read_queue
    from ..queue.layout import all_spools

    return sum(len(read_queue(spool)) for spool in all_spools(config.spool_dir))


def _say_inbox(config, port: int) -> None:
    print(
        f"contacts-relay: web inbox on http://{_host(config.http_host)}:{port}/, Mailpit's API on /api/v1"
        + (", users from " + str(config.http_auth) if config.http_auth else ""),
        file=sys.stderr,
        flush=True,
    )


def _say_endpoint(endpoint: Endpoint) -> None:
    host = _host(endpoint.host)
    print(
        f"contacts-relay: metrics on http://{host}:{endpoint.port}/metrics, health on "
        f"http://{host}:{endpoint.port}/healthz",
        file=sys.stderr,
        flush=True,
    )


def _cannot_listen(config, exc: OSError) -> None:
    print(
        f"contacts-relay: error: cannot listen on {_host(config.listen_host)}:{config.listen_port}: "
        f"{exc.strerror or exc}",
        file=sys.stderr,
    )


def _say_started(config, port: int, database: str, queued: int | None, workers: int = 1) -> None:
    target = (
        "capture mode (nothing is sent)"
        if config.capture
        else (
            ("upstream " if len(config.upstreams) == 1 else "upstreams in order ")
            + ", ".join(upstream_name(host, port) for host, port in config.upstreams)
            + f" ({_UPSTREAM_TLS[config.upstream_tls]}"
            + (f", at most {config.upstream_rate} recipients each" if config.upstream_rate else "")
            + ")"
        )
    )
    print(
        f"contacts-relay: listening on {_host(config.listen_host)}:{port}, {target}"
        + (f", spool {config.spool_dir}, {queued} queued" if queued is not None else "")
        + (f", {workers} worker processes" if workers > 1 else "")
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


def _say_stopped(config) -> None:
    left = "" if config.capture else f"; {_waiting(config)} message(s) stay in the spool"
    print(f"contacts-relay: stopped{left}", file=sys.stderr)


def _host(host: str | None) -> str:
    """An IPv6 address in brackets, as HOST:PORT options take it back."""
    return f"[{host}]" if host and ":" in host else str(host)


_UPSTREAM_TLS = {
    "opportunistic": "STARTTLS when offered",
    "starttls": "STARTTLS required",
    "tls": "implicit TLS",
    "none": "no TLS",
}
