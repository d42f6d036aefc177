"""`contacts-relay check`: a configuration, or a running relay, checked without starting one."""

from __future__ import annotations

import argparse
import asyncio
import socket
import urllib.error
import urllib.request
from dataclasses import replace

from contacts_tui.core.display import visible
from contacts_tui.core.options import Options

from ..delivery.session import Opener, SessionFailure, UpstreamConfig
from ..ops.health import DEADLINE, directory_problem, spool_problem, within
from .options import add_serve_arguments, config_from_args


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    check = commands.add_parser(
        "check",
        parents=[common],
        help="check a configuration, or a running relay, without starting one",
        description="Checks the options as serve reads them (the same options and RELAY_* variables), that the "
        "directory answers, that the spool can be written, that a session can be opened with each upstream as "
        "delivery opens it (EHLO, STARTTLS and its certificate as --upstream-tls says, AUTH when a user is set; "
        "then QUIT, no mail sent), and, with --metrics, what the running relay's /healthz says (degraded too). "
        "Exit code 0 when all is well, 1 otherwise.",
    )
    add_serve_arguments(check)


def run(args: argparse.Namespace, options: Options) -> int:
    config = config_from_args(args)  # a ConfigError says what is wrong with the options
    results: list[tuple[str, str | None]] = [("options", None)]
    results.append(("directory", directory_problem(options.db_url, options.catalog_path)))
    if not config.capture:
        results.append(("spool", spool_problem(config.spool_dir, config.max_size)))
        results.append(("queue", _queue_problem(config)))
        for upstream in config.upstream_configs():
            results.append((f"upstream {upstream.name}", upstream_problem(upstream)))
    results.append(("listen address", _listen_problem(config)))
    if config.metrics_host:
        results.append(("running relay", _running_problem(config.metrics_host, config.metrics_port)))
    width = max(15, *(len(what) + 1 for what, _ in results))
    for what, problem in results:
        text = "ok" if problem is None else visible(problem.removeprefix(f"{what}: "))
        print(f"{what:{width}} {text}")
    return 0 if all(problem is None for _, problem in results) else 1


def _queue_problem(config) -> str | None:
    """Whether the spool on disk holds a message older than --queue-age-alert (a relay may be running)."""
    from ..ops.queue_health import QueueState, degraded
    from ..queue import read_queue
    from ..queue.layout import all_spools

    try:
        waiting = [m for spool in all_spools(config.spool_dir) for m in read_queue(spool)]
    except OSError as exc:
        return f"the spool cannot be read: {exc.strerror or exc}"
    oldest = min(waiting, key=lambda m: m.received, default=None)
    if oldest is None:
        return None
    state = QueueState(0, len(waiting), 0, oldest.received, oldest.queue_id, oldest.last_error)
    reasons = degraded([state], config.queue_age_alert, config.failure_alert)
    return reasons[0] if reasons else None


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
            text = answer.read().decode(errors="replace").strip()
            if answer.status == 200 and text.startswith("degraded:"):
                return f"{url}: " + "; ".join(text.split("\n"))
            return None if answer.status == 200 else f"{url}: {answer.status}"
    except urllib.error.HTTPError as error:
        return f"{url}: {error.code} " + "; ".join(error.read().decode(errors="replace").split("\n")).strip("; ")
    except OSError as exc:
        return f"{url}: no relay answers ({getattr(exc, 'reason', exc)})"


def upstream_problem(upstream: UpstreamConfig) -> str | None:
    """Whether delivery could open a session with ``upstream``.

    The session is opened as delivery opens it (``delivery/session.py``):
    connect, EHLO, STARTTLS and certificate checks as ``--upstream-tls`` says,
    AUTH when a user is set; then QUIT, without sending mail. The problem is
    the reply a message would be deferred with.
    """

    async def probe() -> None:
        client = await Opener(replace(upstream, timeout=DEADLINE)).open()
        await client.quit()

    def check() -> str | None:
        try:
            asyncio.run(probe())
        except SessionFailure as failure:
            return str(failure.reply)
        except Exception as exc:
            return f"{upstream.name}: {type(exc).__name__}: {exc}"
        return None

    # Connect, greeting, STARTTLS and AUTH may each take up to the deadline.
    return within(DEADLINE * 4, check, f"upstream {upstream.name}")
