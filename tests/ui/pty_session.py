"""A program on a real terminal (a pty), as sshd runs the portal: its size
set as a client asks, keys and signals as a client sends them, and what it
writes read back as plain text."""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import termios
from collections.abc import Callable

from ..waiting import poll

ESCAPES = re.compile(rb"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


def _controlling_terminal() -> None:
    # A session of its own whose terminal is the pty: ctrl+c typed there is
    # SIGINT to it, as on a terminal sshd opened.
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class PtySession:
    def __init__(self, argv: list[str], columns: int = 80, rows: int = 24, env: dict[str, str] | None = None) -> None:
        self.master, slave = os.openpty()
        self.resize(columns, rows, fd=slave)
        environment = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TEXTUAL_DRIVER")}
        env = {**environment, "TERM": "xterm-256color", **(env or {})}
        self.process = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, preexec_fn=_controlling_terminal
        )
        os.close(slave)
        self.output = b""

    def resize(self, columns: int, rows: int, fd: int | None = None) -> None:
        """What sshd does on a client's window-change request: the size, then SIGWINCH."""
        fcntl.ioctl(self.master if fd is None else fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        if fd is None:
            self.process.send_signal(signal.SIGWINCH)

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def text(self, since: int = 0) -> str:
        """What it wrote from byte ``since`` on, escape sequences taken out."""
        return ESCAPES.sub(b"", self.output[since:]).decode("utf-8", "replace")

    def read_until(self, text: str, deadline: float, since: int = 0, watch: Callable[[], None] | None = None) -> None:
        """Read until ``text`` (spaces ignored) is in what it wrote after byte ``since``."""
        wanted = text.replace(" ", "")

        def shown() -> bool:
            if watch is not None:
                watch()
            if not self._read(0.1) and self.process.poll() is not None:
                raise AssertionError(
                    f"it ended before {text!r} appeared; the terminal got {self.text(since)[-2000:]!r}"
                )
            return wanted in self.text(since).replace(" ", "")

        if wanted not in self.text(since).replace(" ", ""):
            poll(
                shown,
                deadline,
                lambda: f"{text!r} never appeared; the terminal got {self.text(since)[-2000:]!r}",
                interval=0,
            )

    def wait(self, deadline: float) -> int:
        """Read everything it writes until it ends; its exit code."""
        poll(self._ended, deadline, lambda: f"it never ended; the terminal got {self.text()[-2000:]!r}", interval=0)
        return self.process.wait()

    def _ended(self) -> bool:
        return not self._read(0.1) and self.process.poll() is not None

    def wait_for_output(self, timeout: float) -> None:
        """Read what it wrote meanwhile, for up to ``timeout`` seconds."""
        self._read(timeout)

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return self.process.poll() is None
        try:
            chunk = os.read(self.master, 1 << 20)
        except OSError:
            return False
        self.output += chunk
        return bool(chunk)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)
