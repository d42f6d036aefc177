"""The portal service on its Unix sockets: `contacts-tui portal-service`.

One socket per channel (the SSH portal's, the browser sessions'), so the
channel the history records is where a request came in, not what it says;
each socket's group decides which account may connect at all. The socket is
a door for strangers' processes, so: a line of at most
``protocol.MAX_REQUEST_BYTES``, at most ``MAX_CONNECTIONS`` connections at
once (one more is told "busy" and closed), a connection that says nothing
for ``IDLE_SECONDS`` is closed, and the database work runs on a few threads
so the sign-in's deliberately slow hashing cannot take the whole machine.
"""

from __future__ import annotations

import asyncio
import grp
import logging
import os
import signal
import socket
import stat
import struct
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..errors import DirectoryError
from . import protocol as p
from .service import PortalService
from .sessions import Peer

MAX_CONNECTIONS = 64
IDLE_SECONDS = 30.0
"""A connection waits this long for its next request (portal processes connect per request)."""
WRITE_SECONDS = 10.0
WORKERS = 4
SOCKET_MODE = 0o660

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Listener:
    """A socket of the service: where, for which channel, and the group that may connect."""

    path: Path
    channel: str
    group: str | None = None


def peer_of(writer: asyncio.StreamWriter, channel: str) -> Peer:
    """The connecting process, as the kernel tells it (SO_PEERCRED), on the channel of its socket."""
    sock = writer.get_extra_info("socket")
    try:
        pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    except (AttributeError, OSError):  # not Linux
        return Peer(channel)
    return Peer(channel, pid, uid)


def bind(listener: Listener) -> socket.socket:
    """A listening socket at ``listener.path``, mode 0660 in its group, put
    in place whole (bound under another name first, then renamed), so no
    process ever finds it there with looser rights."""
    path = listener.path
    gid = -1
    if listener.group:
        try:
            gid = grp.getgrnam(listener.group).gr_gid
        except KeyError:
            raise DirectoryError(f"there is no group {listener.group!r} for the socket {path}") from None
    _clear(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(temporary))
        os.chmod(temporary, SOCKET_MODE)
        if gid != -1:
            os.chown(temporary, -1, gid)
        os.rename(temporary, path)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        temporary.unlink(missing_ok=True)
        raise DirectoryError(f"cannot listen on {path}: {exc.strerror or exc}") from None
    return sock


def _clear(path: Path) -> None:
    """Remove a socket left by a service that ended; refuse to take one a live service listens on."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise DirectoryError(f"{path} exists and is not a socket; remove it or choose another path")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink(missing_ok=True)
            return
    raise DirectoryError(f"another portal service listens on {path}")


class PortalServer:
    """The service's sockets and connections, on one asyncio loop."""

    def __init__(
        self,
        service: PortalService,
        listeners: Iterable[Listener],
        *,
        max_connections: int = MAX_CONNECTIONS,
        idle_seconds: float = IDLE_SECONDS,
        workers: int = WORKERS,
    ) -> None:
        self.service = service
        self.listeners = tuple(listeners)
        self.max_connections = max_connections
        self.idle_seconds = idle_seconds
        self.connections = 0
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="portal-service")
        self._servers: list[asyncio.AbstractServer] = []
        self._bound: list[tuple[Path, int]] = []
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> None:
        for listener in self.listeners:
            sock = bind(listener)
            self._bound.append((listener.path, os.stat(listener.path).st_ino))

            async def connected(reader, writer, channel=listener.channel) -> None:
                task = asyncio.current_task()
                assert task is not None  # a connection's handler runs as a task
                self._tasks.add(task)
                try:
                    await self._connection(reader, writer, channel)
                finally:
                    self._tasks.discard(task)

            self._servers.append(await asyncio.start_unix_server(connected, sock=sock, limit=p.MAX_REQUEST_BYTES))

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            await server.wait_closed()
        # Connections waiting for their next request. A request being answered
        # still finishes in its thread (the executor waits for it below).
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for path, inode in self._bound:
            try:
                if os.stat(path).st_ino == inode:  # still ours, not a newer service's
                    path.unlink()
            except FileNotFoundError:
                pass
        self._executor.shutdown(wait=True)
        self.service.signin.wait_sent()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, channel: str) -> None:
        if self.connections >= self.max_connections:
            log.warning("refused a connection on the %s socket: %d are open", channel, self.connections)
            busy = p.answer_error(None, p.BUSY, p.BUSY_NOW)
            await self._send(writer, p.encode(busy))
            writer.close()
            return
        self.connections += 1
        peer = peer_of(writer, channel)
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    line = await asyncio.wait_for(reader.readline(), self.idle_seconds)
                except ValueError:  # the line went past the limit
                    too_large = f"a request may be at most {p.MAX_REQUEST_BYTES} bytes; closing the connection"
                    await self._send(writer, p.encode(p.answer_error(None, p.TOO_LARGE, too_large)))
                    break
                except (TimeoutError, ConnectionError):
                    break
                if not line:
                    break
                answer = await loop.run_in_executor(self._executor, self.service.answer, line, peer)
                if not await self._send(writer, answer):
                    break
        finally:
            self.connections -= 1
            writer.close()

    async def _send(self, writer: asyncio.StreamWriter, data: bytes) -> bool:
        try:
            writer.write(data)
            await asyncio.wait_for(writer.drain(), WRITE_SECONDS)
        except (TimeoutError, ConnectionError):
            return False
        return True


def run(service: PortalService, listeners: Iterable[Listener]) -> None:
    """Serve until SIGTERM or SIGINT, then remove the sockets and let the code mails go out."""

    async def main() -> None:
        server = PortalServer(service, listeners)
        await server.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, stop.set)
        names = ", ".join(f"{listener.path} ({listener.channel})" for listener in server.listeners)
        log.info("listening on %s", names)
        try:
            await stop.wait()
        finally:
            await server.close()
        log.info("stopped")

    asyncio.run(main())


class ServiceThread:
    """The service on a loop of its own in a thread of this process: for
    tests and the benchmark, which drive it from the outside like a portal."""

    def __init__(self, service: PortalService, listeners: Iterable[Listener], **options) -> None:
        self.server = PortalServer(service, listeners, **options)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="portal-service-loop", daemon=True)

    def start(self) -> ServiceThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(30)
        return self

    def stop(self) -> None:
        if self.loop.is_closed():
            return  # stopped already (a test that stops the service itself)
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)
        self.loop.close()

    def __enter__(self) -> ServiceThread:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
