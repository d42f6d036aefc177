"""The portal as sshd runs it: `contacts-tui portal` on a real terminal (a
pty at 80x24), and a connection that drops (the terminal goes away and
SIGHUP arrives) ends it cleanly instead of leaving it running or crashing.
With its service down it says so in a line and ends."""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import termios

from ...portal_service import running_service
from ...waiting import poll
from ..helpers import TERMINAL_DEADLINE, program

ESCAPES = re.compile(rb"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


def read_until(fd: int, text: bytes, timeout: float) -> bytes:
    seen = bytearray()
    ended = False

    def arrived() -> bool:
        nonlocal ended
        if not ended and select.select([fd], [], [], 0.1)[0]:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            ended = not chunk
            seen.extend(chunk)
        return text in ESCAPES.sub(b"", bytes(seen)).replace(b" ", b"") or ended

    poll(arrived, timeout, interval=0, fail=False)
    if text not in ESCAPES.sub(b"", bytes(seen)).replace(b" ", b""):
        raise AssertionError(f"{text!r} never appeared; the terminal got {ESCAPES.sub(b'', bytes(seen))[-2000:]!r}")
    return bytes(seen)


def test_a_dropped_connection_ends_the_session_cleanly(sqlite_directory, tmp_path) -> None:
    with running_service(sqlite_directory, tmp_path) as service:
        drop_the_line([*program(), "portal", "--socket", str(service.sockets["ssh"])])


def drop_the_line(command: list[str]) -> None:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "LINES", "TEXTUAL_DRIVER")}
    env["TERM"] = "xterm-256color"
    process = subprocess.Popen(
        command,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    try:
        read_until(master, b"Sendcode(enter)", TERMINAL_DEADLINE)
        # The line drops: the terminal is gone, and the session gets SIGHUP.
        os.close(master)
        master = -1
        process.send_signal(signal.SIGHUP)
        assert process.wait(TERMINAL_DEADLINE) == 0
    finally:
        if master >= 0:
            os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait()


def test_with_the_service_down_the_customer_is_told_so_and_nothing_is_drawn(tmp_path) -> None:
    master, slave = os.openpty()
    env = {key: value for key, value in os.environ.items() if key != "TEXTUAL_DRIVER"}
    process = subprocess.Popen(
        [*program(), "portal", "--socket", str(tmp_path / "nobody-listens.sock")],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    try:
        seen = read_until(master, b"isnotavailablerightnow", TERMINAL_DEADLINE)
        assert process.wait(TERMINAL_DEADLINE) == 1
        assert b"Sendcode" not in seen and b"nobody-listens" not in seen  # the socket is the admin's business
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait()
