"""What the two programs share about running as a process: their version, pid
lock files, output to a reader that may stop reading, and a count option's type.

No Textual and no database: both command lines and the relay's spool use these.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DISTRIBUTION = "contact-persons"  # the name in pyproject.toml


def version() -> str:
    """The installed version (pyproject.toml's, as pip recorded it), for --version and the logs."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown (not installed: run from a source tree)"


def take_lock(path: str | os.PathLike[str]) -> tuple[int | None, str]:
    """Take an exclusive lock file: ``(fd, "")``, or ``(None, owner pid)`` if another process holds it.

    The lock lasts as long as the descriptor is open (the kernel lets it go
    when the process ends, even in a crash); the file holds our pid for the
    message the next process gets.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        return None, owner
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd, ""


def lock_held(path: str | os.PathLike[str]) -> bool:
    """Whether some process holds the lock at ``path`` (see ``take_lock``), without keeping it.

    A shared lock that is let go at once: a process starting in that instant
    is told the lock is busy and can be started again.
    """
    try:
        fd = os.open(Path(path), os.O_RDONLY)
    except FileNotFoundError:
        return False  # nobody ever took it
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases a lock we took
    return False


@contextmanager
def reader_may_stop() -> Iterator[None]:
    """Output to a pipe whose reader may stop early (``log | head -1``).

    That is the reader's choice, not an error: instead of a traceback (now
    or when Python flushes at exit), the rest of the output goes nowhere.
    """
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def at_least_one(text: str) -> int:
    """An option's count (``type=at_least_one``): a whole number of at least 1, or a usage error."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return number


def cap_memory(mebibytes: int) -> None:
    """Let this process hold at most ``mebibytes`` MiB of data from now on.

    RLIMIT_DATA counts what a process writes to (heap, anonymous mappings,
    thread stacks), not the address space it merely reserves, so threads and
    their malloc arenas start as usual; past the cap an allocation fails with
    MemoryError instead of taking the host's memory. The hard limit comes down
    too: nothing in the process can lift it again.
    """
    import resource

    cap = mebibytes * 1024 * 1024
    _soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))


_UNITS = {"s": 1, "m": 60, "h": 3600}


def duration(text: str) -> float:
    """An option's length of time (``type=duration``) in seconds: ``90s``, ``2m``,
    ``1h``, or a bare number of seconds; more than zero, or a usage error."""
    value = text.strip().lower()
    unit = _UNITS.get(value[-1:], 0)
    number = value[:-1] if unit else value
    try:
        seconds = float(number) * (unit or 1)
    except ValueError:
        seconds = 0
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a length of time such as 90s, 2m or 1h")
    return seconds
