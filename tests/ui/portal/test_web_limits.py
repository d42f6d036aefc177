"""What the web portal holds out against, tried on a real `contacts-tui
portal --web` with aiohttp's client: a 30000x30000 terminal, clients that
vanish in the middle of a frame, one client opening every session, sessions
nobody signs in to or that never end, and requests for another host name
(DNS rebinding). A client that vanishes mid-frame is a raw socket: it stops
reading, as a dropped network does, which aiohttp's client never does."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import socket
import struct
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import aiohttp
import pytest

from contacts_tui.core.directory.service import Directory
from contacts_tui.ui.portal.limits import GRACE_SECONDS

from ...portal_service import RunningService, running_service
from ...processes import peak_memory
from ...waiting import poll, wait_until
from .test_web_server import DEADLINE, Served, serving_portal

MB = 1024 * 1024
MEMORY_BOUND = 300 * MB
ESCAPES = re.compile(r"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
FIRST_SCREEN = "Sendcode(enter)"


@pytest.fixture
def service(sqlite_directory: Directory, tmp_path: Path) -> Iterator[RunningService]:
    # Port 9 (discard): nobody gets a code in these tests.
    with running_service(sqlite_directory, tmp_path) as running:
        yield running


def serving(service: RunningService, tmp_path: Path, *options: str):
    return serving_portal(service.sockets["web"], tmp_path, *options)


def socket_url(served: Served, width: int = 80, height: int = 24) -> str:
    return f"{served.url.replace('http:', 'ws:')}ws?width={width}&height={height}"


def origin(served: Served) -> str:
    return served.url.rstrip("/")


async def until_shown(websocket: aiohttp.ClientWebSocketResponse, text: str, watch=None) -> None:
    """Read the session's output until ``text`` is on the screen; ``watch`` is called between reads."""
    seen = [""]

    def screen() -> str:
        return ESCAPES.sub("", seen[0])

    async def shown() -> bool:
        if watch is not None:
            watch()
        try:
            message = await asyncio.wait_for(websocket.receive(), 0.2)
        except TimeoutError:
            return False
        assert message.type == aiohttp.WSMsgType.BINARY, f"the session ended: {message}"
        seen[0] = (seen[0] + message.data.decode("utf-8", "replace"))[-200_000:]
        return text in screen().replace(" ", "")

    await wait_until(shown, DEADLINE, lambda: f"{text!r} never showed; the screen had {screen()[-500:]!r}", interval=0)


async def test_a_30000_by_30000_terminal_keeps_the_session_under_300_mb(
    service: RunningService, tmp_path: Path
) -> None:
    with serving(service, tmp_path) as served:
        async with aiohttp.ClientSession() as client:
            # A frame of that size was 1 GB: the client takes nothing near it.
            websocket = await client.ws_connect(
                socket_url(served, 30000, 30000), origin=origin(served), max_msg_size=8 * MB
            )
            (pid,) = await wait_until(served.sessions, DEADLINE)

            def bounded() -> None:
                assert peak_memory(pid) < MEMORY_BOUND, f"the session took {peak_memory(pid) / MB:.0f} MB"

            await until_shown(websocket, FIRST_SCREEN, bounded)
            # The browser's resize messages, then something that is not a size at all.
            for size in ({"width": 30000, "height": 30000}, {"width": 80, "height": 24}, {"width": 10**12}):
                await websocket.send_json(["resize", size])
                await until_shown(websocket, FIRST_SCREEN, bounded)
            await websocket.send_json(["resize", {"width": 30000, "height": 30000}])
            await until_shown(websocket, FIRST_SCREEN, bounded)
            peak = peak_memory(pid)
            print(f"web session asked for 30000x30000: peak {peak / MB:.0f} MB")
            assert 0 < peak < MEMORY_BOUND
            await websocket.close()


# -- clients that vanish mid-frame ---------------------------------------------


def frame(payload: bytes) -> bytes:
    """A masked websocket text frame, as a client sends it."""
    mask = os.urandom(4)
    size = len(payload)
    header = b"\x81" + (bytes([0x80 | size]) if size < 126 else b"\xfe" + struct.pack("!H", size))
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def open_raw_session(served: Served) -> socket.socket | None:
    """A websocket a browser opened at 500x200 on a link that then stops
    carrying anything back to it; None when the server refused it."""
    host, port = served.url.split("//")[1].rstrip("/").split(":")
    client = socket.socket()
    # A small window: the frames back up into the server at once.
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    client.sendall(
        f"GET /ws?width=500&height=200 HTTP/1.1\r\nHost: {host}:{port}\r\nOrigin: {origin(served)}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = client.recv(1)
        if not chunk:
            break
        answer += chunk
    if not answer.startswith(b"HTTP/1.1 101"):
        client.close()
        return None
    return client


def blocked_writing(pid: int) -> bool:
    """Whether the process is waiting to write to a full pipe (its output to the server)."""
    try:
        return "pipe_write" in Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return False


def stuck(client: socket.socket, pid: int, sizes: Iterator[tuple[int, int]]) -> bool:
    """Redraw at one size and another until the session is stuck writing a frame."""
    if blocked_writing(pid):
        return True
    width, height = next(sizes)
    client.sendall(frame(json.dumps(["resize", {"width": width, "height": height}]).encode()))
    return False


def vanish(client: socket.socket) -> None:
    """The client is gone without a goodbye: a reset, not a close."""
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()


@pytest.mark.slow
def test_twenty_clients_that_vanish_mid_frame_leave_no_process(service: RunningService, tmp_path: Path) -> None:
    with serving(service, tmp_path, "--max-sessions", "1") as served:
        most = [0]
        watching = threading.Event()
        watching.set()

        def count() -> None:
            # A session's slot is given back only when its process has ended:
            # never more processes than --max-sessions allows.
            while watching.is_set():
                most[0] = max(most[0], len(served.sessions()))

        counter = threading.Thread(target=count, daemon=True)
        counter.start()
        try:
            for _ in range(20):
                client = poll(lambda: open_raw_session(served), DEADLINE + GRACE_SECONDS)
                sessions = poll(served.sessions, DEADLINE)
                assert len(sessions) == 1, f"{len(sessions)} session processes: those of clients gone are left"
                pid = sessions[0]
                poll(partial(stuck, client, pid, iter([(499, 199), (500, 200)] * 2000)), DEADLINE)
                vanish(client)
            poll(lambda: not served.sessions(), GRACE_SECONDS + DEADLINE, served.sessions)
        finally:
            watching.clear()
            counter.join(5)
        print(f"20 clients vanished mid-frame: at most {most[0]} session process at once, none left")
        assert most[0] == 1


# -- what one client may hold ----------------------------------------------------


async def opens(client: aiohttp.ClientSession, served: Served, **headers: str) -> int:
    """The status the server answered a new session with (101: it opened, and is closed again at the end)."""
    try:
        websocket = await client.ws_connect(socket_url(served), origin=origin(served), headers=headers)
    except aiohttp.WSServerHandshakeError as refused:
        return refused.status
    opened.append(websocket)
    return 101


opened: list[aiohttp.ClientWebSocketResponse] = []


async def close_all() -> None:
    while opened:
        await opened.pop().close()


async def test_one_client_holds_at_most_its_share_of_the_sessions(service: RunningService, tmp_path: Path) -> None:
    with serving(service, tmp_path) as served:
        try:
            async with aiohttp.ClientSession() as here:
                assert [await opens(here, served) for _ in range(4)] == [101, 101, 101, 429]
                # What a client says about itself counts for nothing without --trust-proxy.
                assert await opens(here, served, **{"X-Forwarded-For": "198.51.100.7"}) == 429
            # Another address (all of 127/8 is this machine) has sessions of its own.
            other = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
            async with aiohttp.ClientSession(connector=other) as there:
                assert await opens(there, served) == 101
        finally:
            await close_all()
    with serving(service, tmp_path, "--max-per-client", "1", "--trust-proxy") as served:
        try:
            async with aiohttp.ClientSession() as proxy:
                # Behind a proxy: the address the proxy added last is the client.
                assert await opens(proxy, served, **{"X-Forwarded-For": "198.51.100.7"}) == 101
                assert await opens(proxy, served, **{"X-Forwarded-For": "203.0.113.9, 198.51.100.7"}) == 429
                assert await opens(proxy, served, **{"X-Forwarded-For": "198.51.100.7, 203.0.113.9"}) == 101
        finally:
            await close_all()


ENDED = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)


async def closed(websocket: aiohttp.ClientWebSocketResponse) -> str:
    """Wait for the server to end the session; its reason."""

    async def ending() -> aiohttp.WSMessage | None:
        try:
            message = await asyncio.wait_for(websocket.receive(), 0.2)
        except TimeoutError:
            return None
        return message if message.type in ENDED else None

    message = await wait_until(ending, DEADLINE, lambda: "the session never ended", interval=0)
    return str(message.extra or "")


async def keep_typing(websocket: aiohttp.ClientWebSocketResponse) -> None:
    """A key every moment (until the server closes), as a client holding its session open would."""
    while not websocket.closed:
        await websocket.send_json(["stdin", "x"])
        await wait_until(lambda: websocket.closed, 0.2, fail=False)


async def test_a_session_nobody_signs_in_to_ends_soon_and_every_session_ends_at_its_lifetime(
    service: RunningService, tmp_path: Path
) -> None:
    options = ("--sign-in-timeout", "3s", "--session-lifetime", "12s")
    with serving(service, tmp_path, *options) as served:
        async with aiohttp.ClientSession() as client:
            idle = await client.ws_connect(socket_url(served), origin=origin(served))
            busy = await client.ws_connect(socket_url(served), origin=origin(served))
            typing = asyncio.create_task(keep_typing(busy))
            try:
                # Nobody types in the first: it ends, and the page is told why.
                assert "nobody signed in for 3 seconds" in await closed(idle)
                assert not busy.closed
                # Keys keep the other open, until its lifetime is over.
                assert "ended after 12 seconds" in await closed(busy)
            finally:
                typing.cancel()
        poll(lambda: not served.sessions(), GRACE_SECONDS + DEADLINE, served.sessions)


# -- DNS rebinding ---------------------------------------------------------------


async def status(client: aiohttp.ClientSession, url: str, host: str) -> int:
    async with client.get(url, headers={"Host": host}) as response:
        return response.status


REBOUND = ("evil.example", "evil.example:{port}", "127.0.0.1.evil.example", "localhost.evil.example")


async def test_a_request_for_another_host_name_is_refused(service: RunningService, tmp_path: Path) -> None:
    with serving(service, tmp_path) as served:
        port = served.url.rstrip("/").rsplit(":", 1)[1]
        async with aiohttp.ClientSession() as client:
            for host in (name.format(port=port) for name in REBOUND):
                for path in ("", "static/js/textual.js", "portal/portal.js", "no-such-page"):
                    assert await status(client, served.url + path, host) == 421, (host, path)
                # A page of the rebound name opens a websocket with its own name as Host and Origin.
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await client.ws_connect(socket_url(served), origin=f"http://{host}", headers={"Host": host})
                assert refused.value.status == 421
            for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "10.1.2.3"):
                assert await status(client, served.url, host) == 200, host
            assert not served.sessions()


async def test_behind_a_proxy_the_public_name_is_answered(service: RunningService, tmp_path: Path) -> None:
    with serving(service, tmp_path, "--public-url", "https://portal.example.com") as served:
        async with aiohttp.ClientSession() as client:
            assert await status(client, served.url, "portal.example.com") == 200
            assert await status(client, served.url, "Portal.Example.COM.") == 200
            assert await status(client, served.url, "evil.example") == 421
            websocket = await client.ws_connect(
                socket_url(served), origin="https://portal.example.com", headers={"Host": "portal.example.com"}
            )
            await until_shown(websocket, FIRST_SCREEN)
            await websocket.close()
