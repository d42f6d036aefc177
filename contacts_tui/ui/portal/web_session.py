"""One browser session's portal process, which always ends.

textual-serve's AppService starts the process and relays its output to the
browser. What we change, and why: once the browser has gone, its process used
to stay, blocked for ever writing a frame to a pipe nobody read (a 1 GB frame
at 30000x30000), deaf to SIGTERM, after its --max-sessions slot had already
been given back. Here the output of a session whose client is gone is read and
dropped, so the process can take the quit it is sent; one that has not ended
within the grace period is killed with its process group; and the caller
learns the session is over only once the process is. Sizes the browser sends
are bounded (limits.py), and the process gets no way to make the browser open
an address or download a file: the portal does neither.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shlex
import signal
from asyncio.subprocess import PIPE, Process
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from textual_serve.app_service import AppService

from contacts_tui.core.portal.language import DEFAULT_LANGUAGE, SESSION_ENV, translation
from contacts_tui.core.wording import N_

from .limits import GRACE_SECONDS, bounded_size
from .web_forks import ForkedProcess, WarmParent

log = logging.getLogger("textual-serve")

ENDED = N_("The session ended.")
"""What the page says of a process that ended without saying why."""


class SessionProcess(AppService):
    """A portal process for one browser, ended by ``stop()`` within the grace period."""

    def __init__(
        self,
        argv: list[str],
        *,
        close: Callable[..., Awaitable[Any]],
        grace: float = GRACE_SECONDS,
        parent: WarmParent | None = None,
        language: str = DEFAULT_LANGUAGE,
        **service: Any,
    ) -> None:
        super().__init__(shlex.join(argv), close=close, **service)
        # The websocket's own close, which takes a reason (AppService's takes none).
        self.close_websocket = close
        self.argv = argv
        self.grace = grace
        self.parent = parent
        self.language = language
        """What its browser's Accept-Language asks for: said until the customer is known."""
        self.client_gone = False
        self.ending = ""
        self.out_of_memory = False
        """The session said it ended at its memory ceiling (--session-memory)."""

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Process:
        width, height = bounded_size(width, height)
        environment = self._build_environment(width=width, height=height)
        if self.parent is not None and self.parent.running:
            try:
                forked = await self.parent.fork(environment)
            except ConnectionError as error:
                log.warning("starting a session cold: %s", error)
            else:
                self._process = process = forked.as_process()
                self._stdin = process.stdin
                return process
        # Its own process group (so a kill reaches all of it) and no shell in
        # between: the pid we hold is the portal's.
        self._process = process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=PIPE,
            stdout=PIPE,
            stderr=PIPE,
            env=environment,
            start_new_session=True,
        )
        self._stdin = process.stdin
        return process

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        # The one way to tell the process: a forked one takes this environment
        # as its own (web_forks.py), where the warmed parent's is no browser's.
        environment = super()._build_environment(width=width, height=height)
        environment[SESSION_ENV] = self.language
        return environment

    # Input is written without waiting for the process to take it: waiting
    # stopped the server reading the browser (its heartbeat too) and held a
    # quit behind a flood. What is not yet taken is the caller's to bound
    # (``backlog``, limits.INPUT_BACKLOG_BYTES).

    async def send_bytes(self, data: bytes) -> bool:
        return self._send(b"D", data)

    async def send_meta(self, data: dict[str, str | None | int | bool]) -> bool:
        return self._send(b"M", json.dumps(data).encode("utf-8"))

    def _send(self, kind: Literal[b"D", b"M"], payload: bytes) -> bool:
        stdin = self._stdin
        if stdin is None or stdin.is_closing():
            return False
        try:
            stdin.write(self.encode_packet(kind, payload))
        except (RuntimeError, ConnectionError):
            return False
        return True

    def backlog(self) -> int:
        """Bytes written to the process that it has not yet read (beyond its pipe's own buffer)."""
        stdin = self._stdin
        return stdin.transport.get_write_buffer_size() if stdin is not None else 0

    async def set_terminal_size(self, width: object, height: object) -> None:
        await super().set_terminal_size(*bounded_size(width, height))

    async def on_data(self, payload: bytes) -> None:
        if self.client_gone:
            return  # read and dropped, so the process is never stuck writing it
        try:
            await self.remote_write_bytes(payload)
        except ConnectionError:
            self.client_gone = True

    async def on_meta(self, data: bytes) -> None:
        try:
            meta = json.loads(data)
            kind = meta.get("type")
        except (ValueError, AttributeError):
            return
        if kind == "ending" and isinstance(meta.get("reason"), str):
            self.ending = meta["reason"]
            # Said apart from the reason, which is in the customer's language.
            self.out_of_memory = meta.get("out_of_memory") is True
        elif kind == "exit":
            await self.close_client(self.ending)

    async def close_client(self, why: str = "") -> None:
        """Close the browser's websocket, with ``why`` as its reason (the page shows it)."""
        if self.client_gone:
            return
        try:
            await self.close_websocket(message=close_reason(why))
        except ConnectionError:
            self.client_gone = True

    async def run(self) -> None:
        await super().run()
        # The process ended without saying so (killed by the system, say):
        # the page must not wait for ever for a screen.
        await self.close_client(self.ending or translation(self.language).gettext(ENDED))

    async def on_packed(self, payload: bytes) -> None:
        pass  # file deliveries: the portal offers none, and the server has no download route

    async def stop(self) -> None:
        """Ask the process to quit, kill what is left after the grace period,
        and return once it has ended."""
        task, self._task = self._task, None
        process = self._process
        if task is None or process is None:
            return
        self.client_gone = True
        try:
            async with asyncio.timeout(self.grace):
                await self.send_meta({"type": "quit"})
                await process.wait()
        except TimeoutError:
            log.warning("session process %d did not end within %g s of being asked: killed", process.pid, self.grace)
        finally:
            self.kill()
            # Its output ends with it; a write to a browser that stopped
            # reading may still hang, and is not waited for.
            try:
                async with asyncio.timeout(self.grace):
                    await process.wait()
                    await asyncio.shield(task)
            except TimeoutError:
                task.cancel()

    def kill(self) -> None:
        """SIGKILL to the session's process group, unless it has already been reaped."""
        process = self._process
        if process is None or process.returncode is not None:
            return
        if isinstance(process, ForkedProcess):
            process.kill()
            return
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def session_environment(width: int = 80, height: int = 24) -> dict[str, str]:
    """The environment textual-serve gives a session's process (its driver, colours, size)."""
    return AppService._build_environment(_NotDebugging(), width, height)  # type: ignore[arg-type]


class _NotDebugging:
    debug = False


def close_reason(why: str) -> bytes:
    """``why`` as a websocket close frame's reason: printable, at most 123 bytes of whole characters."""
    return "".join(ch for ch in why if ch.isprintable()).encode()[:123].decode(errors="ignore").encode()
