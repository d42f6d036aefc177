"""The portal as sshd runs it: `contacts-tui portal` on a real terminal (a
pty), as a client drives it: a connection that drops (the terminal goes away
and SIGHUP arrives) ends it cleanly instead of leaving it running or
crashing; with its service down it says so in a line and ends; a terminal of
30000x30000 (at the start, by SIGWINCH, in band) is drawn at most 500x200; a
session past its memory cap ends with one line; and ctrl+c while it starts
shows no traceback."""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator

import pytest

from ...portal_service import RunningService, running_service
from ...processes import peak_memory
from ...waiting import poll
from ..helpers import TERMINAL_DEADLINE, program
from ..pty_session import PtySession

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


# -- what a client asks of the terminal -------------------------------------------

MB = 1024 * 1024
FIRST_SCREEN = "Send code (enter)"


@pytest.fixture
def service(sqlite_directory, tmp_path) -> Iterator[RunningService]:
    with running_service(sqlite_directory, tmp_path) as running:
        yield running


def portal(service: RunningService, *options: str) -> list[str]:
    return [*program(), "portal", "--socket", str(service.sockets["ssh"]), *options]


def test_a_30000_by_30000_terminal_keeps_the_session_under_300_mb(service: RunningService) -> None:
    session = PtySession(portal(service), 30000, 30000)

    def bounded() -> None:
        assert peak_memory(session.process.pid) < 300 * MB, f"{peak_memory(session.process.pid) / MB:.0f} MB"

    try:
        session.read_until(FIRST_SCREEN, TERMINAL_DEADLINE, watch=bounded)
        # The window changes size (SIGWINCH), back and forth: each a redraw.
        for columns, rows in ((80, 24), (65535, 65535), (80, 24)):
            mark = len(session.output)
            session.resize(columns, rows)
            session.read_until(FIRST_SCREEN, TERMINAL_DEADLINE, since=mark, watch=bounded)
        # The size in band, as a terminal that offers it reports it (typed by
        # the client): a small one first, so the huge one is a change.
        session.type(b"\x1b[?2048;1$y")
        for rows, columns in ((30, 100), (30000, 30000)):
            mark = len(session.output)
            session.type(f"\x1b[48;{rows};{columns};0;0t".encode())
            session.read_until(FIRST_SCREEN, TERMINAL_DEADLINE, since=mark, watch=bounded)
        peak = peak_memory(session.process.pid)
        print(f"SSH session asked for 30000x30000: peak {peak / MB:.0f} MB")
        assert 0 < peak < 300 * MB
    finally:
        session.close()


def test_a_session_that_reaches_its_memory_cap_ends_with_a_line_not_a_hang(service: RunningService, tmp_path) -> None:
    session = PtySession(portal(service, "--session-memory", "100", "--log-file", str(tmp_path / "portal.log")))
    try:
        session.read_until(FIRST_SCREEN, TERMINAL_DEADLINE)
        # A paste into the address field that never ends.
        session.type(b"\x1b[200~")
        os.set_blocking(session.master, False)

        def flooded() -> bool:
            if session.process.poll() is not None:
                return True
            try:
                session.type(b"a" * 65536)
            except BlockingIOError:
                session.wait_for_output(0.05)
            return False

        poll(
            flooded,
            TERMINAL_DEADLINE * 4,
            lambda: f"it still runs at {peak_memory(session.process.pid) / MB:.0f} MB",
            interval=0,
        )
        os.set_blocking(session.master, True)
        assert session.wait(TERMINAL_DEADLINE) == 1
    finally:
        session.close()
    shown = session.text()
    assert "Out of memory: the session ended." in shown and "Reference:" in shown
    assert "Traceback" not in shown and "MemoryError" not in shown
    reference = re.search(r"Reference: ([0-9A-F]{8})", shown.replace("\r\n", "")).group(1)
    logged = (tmp_path / "portal.log").read_text()
    assert f"crash {reference}" in logged and "MemoryError" in logged


def test_ctrl_c_while_the_portal_starts_shows_no_traceback(service: RunningService) -> None:
    # How long this machine takes to show the first screen, and Python to
    # start at all (a ctrl+c before Python has started is not ours to answer).
    first = PtySession(portal(service))
    started = time.monotonic()
    try:
        first.read_until(FIRST_SCREEN, TERMINAL_DEADLINE)
        start = time.monotonic() - started
    finally:
        first.close()
    bare = time.monotonic()
    subprocess.run([sys.executable, "-c", "import contacts_tui.cli"], check=True)
    python = time.monotonic() - bare
    for step in range(10):
        delay = python + (start - python) * step / 9
        session = PtySession(portal(service))
        try:
            time.sleep(delay)  # the moment the customer presses ctrl+c, not a wait for a result
            session.type(b"\x03")
            try:
                session.read_until(FIRST_SCREEN, TERMINAL_DEADLINE)
                session.type(b"\x11")  # it started after all: ctrl+q ends it
            except AssertionError:
                pass  # it ended on the ctrl+c
            code = session.wait(TERMINAL_DEADLINE)
        finally:
            session.close()
        shown = session.text()
        assert "Traceback" not in shown and "KeyboardInterrupt" not in shown, (delay, shown[-2000:])
        assert code in (0, 130), (delay, code, shown[-2000:])
