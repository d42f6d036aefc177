"""A hostile browser session among calm ones, on a real `contacts-tui portal
--web` with forked sessions: one that floods its input is ended, with a
message to its page, while two calm sessions keep drawing their screens."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from contacts_tui.ui.portal.limits import GRACE_SECONDS, MAX_COLUMNS, MAX_ROWS

from ...portal_service import RunningService
from ...waiting import poll, wait_until
from .test_web_limits import ENDED, ESCAPES, FIRST_SCREEN, origin, service, serving, socket_url
from .test_web_server import DEADLINE

__all__ = ["service"]  # the fixture, used by name


class Watched:
    """A session whose output is read all the time (one reader each), as a
    browser reads it: the server must never see a calm client stop reading."""

    def __init__(self, websocket: aiohttp.ClientWebSocketResponse) -> None:
        self.websocket = websocket
        self.seen = ""
        self.ended: str | None = None
        self.ended_at = 0.0
        self.width = 80
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message.type in ENDED:
                self.ended = str(message.extra or "")
                self.ended_at = asyncio.get_running_loop().time()
                return
            if message.type == aiohttp.WSMsgType.BINARY:
                self.seen = (self.seen + message.data.decode("utf-8", "replace"))[-200_000:]

    def screen(self) -> str:
        return ESCAPES.sub("", self.seen).replace(" ", "")

    async def shows(self, text: str) -> None:
        await wait_until(
            lambda: self.ended is not None or text in self.screen(),
            DEADLINE,
            lambda: f"{text!r} never showed; the screen had {self.screen()[-300:]!r}",
        )
        assert self.ended is None, f"the session ended: {self.ended!r}"

    async def answers(self) -> None:
        """A new width has the session draw its screen again."""
        # Each time a width it has not had lately: a width it had just before
        # can be taken for no change at all when two resizes come close together.
        self.width = 60 + (self.width - 59) % 100
        self.seen = ""
        await self.websocket.send_json(["resize", {"width": self.width, "height": 24}])
        await self.shows(FIRST_SCREEN)

    async def closed(self) -> str:
        await wait_until(lambda: self.ended is not None, DEADLINE + GRACE_SECONDS, lambda: "the session never ended")
        assert self.ended is not None
        return self.ended


async def open_watched(client: aiohttp.ClientSession, url: str, page: str) -> Watched:
    watched = Watched(await client.ws_connect(url, origin=page, max_msg_size=0))
    await watched.shows(FIRST_SCREEN)
    return watched


async def among_calm_sessions(
    service: RunningService, tmp_path: Path, attack: Callable[[Watched], Coroutine[Any, Any, None]], *options: str
) -> tuple[str, str]:
    """Two calm sessions and a hostile one; ``attack`` drives the hostile one
    until the server closes it; the calm ones answer throughout. The hostile
    session's close reason."""
    with serving(service, tmp_path, "--sign-in-timeout", "10m", *options) as served:
        forked = "--cold-sessions" not in options
        assert (served.warmed_parent() is not None) == forked, "the sessions do not start as asked"
        async with aiohttp.ClientSession() as client:
            url, page = socket_url(served), origin(served)
            calm = [await open_watched(client, url, page) for _ in range(2)]
            hostile = await open_watched(client, url, page)
            before = set(served.sessions())
            attacking = asyncio.create_task(attack(hostile))
            try:

                async def calm_answer() -> bool:
                    for watched in calm:
                        await watched.answers()
                    return hostile.ended is not None

                await wait_until(calm_answer, DEADLINE, lambda: "the hostile session was never ended", interval=0)
                reason = await hostile.closed()
            finally:
                attacking.cancel()
            # Its process has gone; the others' have not, and they still answer.
            await wait_until(lambda: len(served.sessions()) == 2, DEADLINE, served.sessions)
            assert set(served.sessions()) < before
            for watched in calm:
                await watched.answers()
                await watched.websocket.close()
        poll(lambda: not served.sessions(), GRACE_SECONDS + DEADLINE, served.sessions)
        # The log is wrapped to a console's width.
        return reason, " ".join(served.log_file.read_text().split())


async def flood(hostile: Watched) -> None:
    """A paste into the address field that never ends."""
    websocket = hostile.websocket
    await websocket.send_json(["stdin", "\x1b[200~"])
    chunk = "a" * 65536
    while not websocket.closed:
        await websocket.send_json(["stdin", chunk])
        await asyncio.sleep(0)


@pytest.mark.slow
async def test_a_flooding_session_is_ended_with_a_message_while_the_others_keep_answering(
    service: RunningService, tmp_path: Path
) -> None:
    reason, log = await among_calm_sessions(service, tmp_path, flood)
    assert reason.startswith("Too much input: the session ended."), reason
    assert "of 127.0.0.1: it sent more input than a session takes" in log, log


async def draw_the_largest_frames(hostile: Watched) -> None:
    """A page that keeps asking for the largest frame the portal draws, each
    size a new one so that each is drawn again."""
    websocket = hostile.websocket
    while not websocket.closed:
        for size in ({"width": MAX_COLUMNS, "height": MAX_ROWS}, {"width": MAX_COLUMNS - 1, "height": MAX_ROWS - 1}):
            await websocket.send_json(["resize", size])
            await asyncio.sleep(0.05)


CEILING_MIB = 48
"""Below what a session needs to draw 500x200 (VmData about 49 MiB, forked or
cold), above what one needs at 80x24 (about 46 MiB)."""


@pytest.mark.slow
@pytest.mark.parametrize("start", ["forked", "cold"])
async def test_a_session_at_its_memory_ceiling_is_ended_with_a_message_while_the_others_keep_answering(
    service: RunningService, tmp_path: Path, start: str
) -> None:
    sessions_log = tmp_path / "sessions.log"
    options = ["--session-memory", str(CEILING_MIB), "--log-file", str(sessions_log)]
    if start == "cold":
        options.append("--cold-sessions")
    attacked: list[tuple[Watched, float]] = []

    async def attack(hostile: Watched) -> None:
        attacked.append((hostile, asyncio.get_running_loop().time()))
        await draw_the_largest_frames(hostile)

    reason, log = await among_calm_sessions(service, tmp_path, attack, *options)
    ((hostile, started),) = attacked
    took = hostile.ended_at - started
    print(f"{start} session at a {CEILING_MIB} MiB ceiling drawing 500x200: ended in {took:.1f} s")
    assert reason.startswith("Out of memory: the session ended."), reason
    reference = reason.rpartition("Reference: ")[2]
    assert "of 127.0.0.1 reached its memory ceiling (--session-memory) and ended" in log, log
    logged = sessions_log.read_text()
    assert f"crash {reference}" in logged and "MemoryError" in logged, logged
