"""Serving with several worker processes: every core used, one listening address.

Python runs one thread of code at a time, so one relay process uses one
core. ``contacts-relay serve --workers N`` binds the listening socket here,
then forks N workers that each accept on it (the kernel hands each new
connection to one of them) and run a whole relay: its own spool
(``worker-K`` under the spool directory), scheduler, upstream connections
and relay log writer, over the one directory database. This process only
watches: a worker that dies is started again on its spool, SIGTERM and
SIGHUP are passed on, and when this process is killed the workers die with
it (the kernel tells them), so a restart finds every spool free.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import cast

from contacts_tui.core.options import Options, open_directory

from .app import Relay, health_problems, run_loop
from .config import RelayConfig
from .ops import metrics, process_log
from .ops.queue_health import degraded, state_file, states_in
from .queue import SpoolError

logger = logging.getLogger(__name__)

STOP_GRACE = 40.0  # seconds a worker gets to finish after SIGTERM (its own grace is 30)
READY_TIMEOUT = 60.0
_PR_SET_PDEATHSIG = 1


def listening_socket(config: RelayConfig, where: tuple[str, int] | None = None) -> socket.socket:
    """The socket every worker accepts on (mail, or ``where``: the web inbox's); OSError if it cannot be had."""
    host, port = where or (config.listen_host, config.listen_port)
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = found[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(1024)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class Supervisor:
    """Starts ``workers`` relay processes on ``sock`` and keeps them running."""

    def __init__(
        self,
        config: RelayConfig,
        options: Options,
        sock: socket.socket,
        workers: int,
        http_sock: socket.socket | None = None,
    ) -> None:
        self.config, self.options, self.sock, self.workers = config, options, sock, workers
        # The web inbox's socket: every worker serves it, as every worker takes mail.
        self.http_sock = http_sock
        self._context = multiprocessing.get_context("fork")
        self._processes: dict[int, BaseProcess] = {}
        self._started: dict[int, float] = {}
        self._failures: dict[int, int] = {}
        self._stopping = False
        self._reload = False
        self._ready: set[int] = set()
        # Where the workers write their metrics for the supervisor's endpoint to add up.
        self.metrics_dir = tempfile.mkdtemp(prefix="contacts-relay-metrics-") if config.metrics_host else None

    def start(self) -> None:
        """Fork the workers and wait until each accepts mail; RuntimeError if one cannot."""
        readiness = {}
        for worker in range(1, self.workers + 1):
            readiness[worker] = self._start(worker)
        deadline = time.monotonic() + READY_TIMEOUT
        for worker, (ready, sender) in readiness.items():
            sender.close()
            problem = ""
            if ready.poll(max(0.0, deadline - time.monotonic())):
                try:
                    problem = ready.recv()
                except EOFError:
                    problem = "it exited while starting"
            else:
                problem = f"it did not start within {READY_TIMEOUT:g} s"
            ready.close()
            if problem:
                self.stop()
                raise RuntimeError(f"worker {worker}: {problem}")
            self._ready.add(worker)

    def _start(
        self, worker: int
    ) -> tuple[multiprocessing.connection.Connection, multiprocessing.connection.Connection]:
        ready, sender = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=_worker_main,
            args=(
                self.config,
                self.options,
                self.sock,
                worker,
                self.workers,
                sender,
                self.metrics_dir,
                self.http_sock,
            ),
            name=f"contacts-relay worker {worker}",
            daemon=False,
        )
        process.start()
        self._processes[worker] = process
        self._started[worker] = time.monotonic()
        return ready, sender

    def catch_signals(self) -> None:
        """From now on SIGTERM and SIGINT stop, SIGHUP reloads: before the relay says it listens."""
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hup)

    def run(self, stopping: Callable[[], None] = lambda: None) -> int:
        """Watch the workers until SIGTERM or SIGINT (then call ``stopping``); returns the exit code."""
        self.catch_signals()
        # A signal wakes the wait at once (the handler only sets a flag).
        woken, waker = socket.socketpair()
        woken.setblocking(False)
        waker.setblocking(False)
        signal.set_wakeup_fd(waker.fileno(), warn_on_full_buffer=False)
        while not self._stopping:
            sentinels = {process.sentinel: worker for worker, process in self._processes.items()}
            for ready in multiprocessing.connection.wait([woken, *sentinels], timeout=5):
                if ready is woken:
                    woken.recv(1024)
                elif not self._stopping:
                    self._restart(sentinels[cast(int, ready)])  # a process's sentinel is its fd
            if self._reload:
                self._reload = False
                for process in self._processes.values():
                    if process.pid:
                        os.kill(process.pid, signal.SIGHUP)
        signal.set_wakeup_fd(-1)
        woken.close()
        waker.close()
        stopping()
        self.stop()
        return 0

    def _restart(self, worker: int) -> None:
        if self._stopping:
            return  # it was told to stop (a Ctrl-C reaches every process of the terminal)
        process = self._processes[worker]
        process.join()
        self._ready.discard(worker)
        if self.metrics_dir and process.pid:
            metrics.forget_process(self.metrics_dir, process.pid)
        code = process.exitcode
        how = f"signal {-code}" if code is not None and code < 0 else f"code {code}"
        lived = time.monotonic() - self._started[worker]
        self._failures[worker] = self._failures.get(worker, 0) + 1 if lived < 5 else 0
        # A worker that keeps dying at once waits longer each time, up to 30 s.
        pause = min(30.0, 0.5 * 2 ** self._failures[worker]) if self._failures[worker] else 0.0
        logger.error(
            "worker %d (pid %s) exited with %s after %.0f s; starting it again%s",
            worker,
            process.pid,
            how,
            lived,
            f" in {pause:g} s" if pause else "",
        )
        if pause:
            time.sleep(pause)
        if not self._stopping:
            ready, sender = self._start(worker)
            sender.close()
            # Ready again once it says so; /healthz waits for that.
            threading.Thread(target=self._await_ready, args=(worker, ready), daemon=True).start()

    def _await_ready(self, worker: int, ready) -> None:
        try:
            if ready.poll(READY_TIMEOUT) and ready.recv() == "":
                self._ready.add(worker)
        except (EOFError, OSError):
            pass
        finally:
            ready.close()

    def health(self) -> list[str]:
        """What keeps the relay from taking mail, then why delivery lags ("degraded: ..."); for /healthz."""
        problems = ["not accepting mail: stopping"] if self._stopping else []
        down = sorted(set(range(1, self.workers + 1)) - self._ready)
        if down:
            problems.append(f"worker(s) {', '.join(map(str, down))} not running")
        problems += health_problems(self.config, self.options.db_url, self.options.catalog_path)
        if self.metrics_dir and not self.config.capture:
            # Only workers that run now: a dead one's last state is history.
            states = [s for s in states_in(self.metrics_dir) if s.worker in self._ready]
            problems += degraded(states, self.config.queue_age_alert, self.config.failure_alert)
        return problems

    def stop(self) -> None:
        """SIGTERM to every worker; they finish what is in flight. SIGKILL after STOP_GRACE."""
        self._stopping = True
        # This copy of the listening socket goes first: once the workers close
        # theirs, new connections are refused rather than left waiting.
        self.sock.close()
        if self.http_sock is not None:
            self.http_sock.close()
        for process in self._processes.values():
            if process.is_alive() and process.pid:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for process in self._processes.values():
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        if self.metrics_dir:
            shutil.rmtree(self.metrics_dir, ignore_errors=True)

    def _on_stop(self, signum, frame) -> None:
        self._stopping = True

    def _on_hup(self, signum, frame) -> None:
        self._reload = True


def _worker_main(
    config: RelayConfig,
    options: Options,
    sock: socket.socket,
    worker: int,
    workers: int,
    ready,
    metrics_dir: str | None,
    http_sock: socket.socket | None = None,
) -> None:
    _die_with_parent()
    process_log.for_worker(worker)
    if metrics_dir:
        metrics.enable(metrics_dir)
    try:
        code = run_loop(_serve_worker(config, options, sock, worker, workers, ready, http_sock, metrics_dir))
    except BaseException as exc:  # whatever stops the start is told to the supervisor
        try:
            ready.send(f"{type(exc).__name__}: {exc}")
        except OSError:
            pass
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        # Through the log, not multiprocessing's own print: one JSON line with --log-format json.
        logger.critical("worker %d stopped by an error: %s: %s", worker, type(exc).__name__, exc, exc_info=True)
        code = 1
    sys.exit(code)


async def _serve_worker(
    config: RelayConfig,
    options: Options,
    sock: socket.socket,
    worker: int,
    workers: int,
    ready,
    http_sock: socket.socket | None = None,
    metrics_dir: str | None = None,
) -> int:
    directory = open_directory(options, must_exist=True)
    states = state_file(metrics_dir, worker) if metrics_dir else None
    relay = Relay(config, directory, worker=worker, workers=workers, sock=sock, http_sock=http_sock, state_file=states)
    try:
        await relay.start()
    except Exception as exc:
        # The supervisor is told too, but a restart's failure would otherwise go unexplained.
        logger.error("worker %d cannot start: %s", worker, exc, exc_info=not isinstance(exc, SpoolError | OSError))
        ready.send(str(exc) or type(exc).__name__)
        await relay.stop(1)
        return 1
    ready.send("")
    ready.close()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await relay.stop()
    return 0


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the supervisor dies (kill -9 included)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: a supervisor killed with -9 leaves its workers to be stopped by hand
    if os.getppid() == 1:
        os._exit(1)  # the supervisor died before the request took effect
