"""Browser sessions forked from a warmed parent instead of started cold.

A cold session is a new interpreter: about a second importing Textual and
the portal before the page sees anything, and 50 MB of its own. The web
server instead starts one parent that imports all of it once, freezes what
it imported out of the collector's reach (``gc.freeze``: a collection would
otherwise write to every object and copy each page it touches), and forks a
session per browser. A session then starts in milliseconds and shares the
parent's pages until it writes to them.

The parent is the session's clean start, nothing more: it never runs a
session, never asks the portal service anything and never opens the
database, so a forked session holds nothing of another session and no
handle to the data. It is single-threaded (a fork copies only the thread
that forks). Per session, the server sends it three pipe ends and the
session's environment over a socketpair; the parent forks, and answers with
the child's pid and a pidfd, which the server watches for the end (the
parent reaps it). A session starts in a session of its own, as a cold one
does, so the server's kill reaches all of it.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import random
import signal
import socket
import sys
import threading
import traceback
from asyncio.subprocess import DEVNULL, Process
from collections.abc import Callable
from typing import IO, Any, cast

log = logging.getLogger("textual-serve")

MESSAGE_BYTES = 1 << 20
"""The most a request (the session's environment) or an answer may take."""
ANSWER_SECONDS = 10.0
"""How long the server waits for the parent to fork a session."""


# -- in the warmed parent ---------------------------------------------------------


def warm() -> None:
    """Import what every session runs, and keep it out of the collector's reach."""
    import textual.drivers.web_driver  # noqa: F401 - the driver a browser session runs on

    import contacts_tui.ui.portal.app  # noqa: F401 - the app and every screen it imports

    gc.collect()
    gc.freeze()


def serve_forks(control_fd: int, run_session: Callable[[], int]) -> int:
    """The warmed parent's loop: a session forked per request on ``control_fd``,
    each running ``run_session``; returns when the server has gone."""
    warm()
    control = socket.socket(fileno=control_fd)
    # Ended sessions are reaped as they end: no zombie waits for the next request.
    signal.signal(signal.SIGCHLD, _reap)
    while True:
        try:
            message, fds, _flags, _address = socket.recv_fds(control, MESSAGE_BYTES, 3)
        except ConnectionError:
            return 0
        if not message:
            return 0  # the server has gone
        if len(fds) != 3:
            for fd in fds:
                os.close(fd)
            continue
        environment = json.loads(message)
        # Only this thread may run when it forks: any other would be missing in the child.
        assert threading.active_count() == 1, "the warmed parent must not run threads"
        pid = os.fork()
        if pid == 0:
            control.close()
            os._exit(_run_forked(fds, environment, run_session))
        for fd in fds:
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        try:
            socket.send_fds(control, [json.dumps({"pid": pid}).encode()], [pidfd])
        except OSError:
            return 0
        finally:
            os.close(pidfd)


def _reap(_signal: int, _frame: object) -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _run_forked(fds: list[int], environment: dict[str, str], run_session: Callable[[], int]) -> int:
    """In the forked child: become the session a cold start would be, run it, and say how it ended."""
    os.setsid()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.environ.clear()
    os.environ.update(environment)
    random.seed()  # each session its own sequence, not a copy of the parent's
    code = 1
    try:
        code = run_session()
    except SystemExit as ended:
        code = ended.code if isinstance(ended.code, int) else 1
        if isinstance(ended.code, str):
            print(ended.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - the child must reach os._exit, never the parent's loop
        traceback.print_exc()
    finally:
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
    return code


# -- in the web server ------------------------------------------------------------


class ForkedProcess:
    """A forked session as AppService sees a process: its pid, its three
    streams, and its end. It is not the server's child (the warmed parent
    reaps it), so its exit status is not ours to read: ``returncode`` is 0
    once it has ended."""

    def __init__(self, pid: int, pidfd: int) -> None:
        self.pid = pid
        self._pidfd = pidfd
        self.returncode: int | None = None
        self._ended = asyncio.get_running_loop().create_future()
        self.stdin: asyncio.StreamWriter | None = None
        self.stdout: asyncio.StreamReader | None = None
        self.stderr: asyncio.StreamReader | None = None
        asyncio.get_running_loop().add_reader(pidfd, self._on_end)

    def _on_end(self) -> None:
        asyncio.get_running_loop().remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._pidfd = -1
        self.returncode = 0
        if not self._ended.done():
            self._ended.set_result(0)

    async def wait(self) -> int:
        return await asyncio.shield(self._ended)

    def kill(self) -> None:
        """SIGKILL to the session, by its pidfd (never another process that took its pid), and its group."""
        if self.returncode is not None:
            return
        try:
            signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def as_process(self) -> Process:
        return cast(Process, self)


class WarmParent:
    """The server's side of the warmed parent: started once, asked for a session per browser."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.process: Process | None = None
        self.control: socket.socket | None = None
        self.asking = asyncio.Lock()

    async def start(self, environment: dict[str, str]) -> None:
        here, there = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # Textual reads its settings (the driver, colours, frame rate) when it
        # is imported: the parent imports it with a browser session's environment.
        with there:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv,
                "--sessions-parent",
                str(there.fileno()),
                stdin=DEVNULL,
                stdout=DEVNULL,
                env=environment,
                pass_fds=[there.fileno()],
                start_new_session=True,
            )
        here.settimeout(ANSWER_SECONDS)
        self.control = here

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None and self.control is not None

    async def fork(self, environment: dict[str, str]) -> ForkedProcess:
        """A new session with ``environment``, its streams connected here."""
        loop = asyncio.get_running_loop()
        stdin_read, stdin_write = os.pipe()
        stdout_read, stdout_write = os.pipe()
        stderr_read, stderr_write = os.pipe()
        theirs = [stdin_read, stdout_write, stderr_write]
        ours = [stdin_write, stdout_read, stderr_read]
        try:
            async with self.asking:
                pid, pidfd = await asyncio.to_thread(self._ask, json.dumps(environment).encode(), theirs)
        except BaseException:
            for fd in ours:
                os.close(fd)
            raise
        finally:
            for fd in theirs:
                os.close(fd)
        process = ForkedProcess(pid, pidfd)
        process.stdout = await _reader(loop, stdout_read)
        process.stderr = await _reader(loop, stderr_read)
        transport, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, os.fdopen(stdin_write, "wb", buffering=0)
        )
        process.stdin = asyncio.StreamWriter(transport, protocol, None, loop)
        return process

    def _ask(self, request: bytes, fds: list[int]) -> tuple[int, int]:
        control = self.control
        if control is None:
            raise ConnectionError("the warmed parent is not running")
        try:
            socket.send_fds(control, [request], fds)
            answer, pidfds, _flags, _address = socket.recv_fds(control, MESSAGE_BYTES, 1)
        except OSError as error:
            self.control = None
            raise ConnectionError(f"the warmed parent did not answer: {error}") from error
        if not answer or len(pidfds) != 1:
            self.control = None
            raise ConnectionError("the warmed parent has gone")
        return int(json.loads(answer)["pid"]), pidfds[0]

    async def stop(self) -> None:
        if self.control is not None:
            self.control.close()  # the parent reads the end and leaves
            self.control = None
        if self.process is not None and self.process.returncode is None:
            try:
                async with asyncio.timeout(5):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def _reader(loop: asyncio.AbstractEventLoop, fd: int) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=2**16, loop=loop)
    pipe: IO[Any] = os.fdopen(fd, "rb", buffering=0)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader, loop=loop), pipe)
    return reader
