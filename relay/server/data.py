"""Reading a message after DATA, in chunks rather than line by line.

aiosmtpd reads the message one CRLF line at a time, with a Python loop per
line: a 200 KiB invoice with its PDF is 2,700 lines, and reading them took
most of the relay's time for such mail. This reads what has arrived in
chunks and finds the end (CRLF "." CRLF) with bytes.find, with aiosmtpd's
rules kept exactly: lines are CRLF-delimited (a bare LF never ends one, so
never the message), a line holds at most ``line_limit`` bytes with its CRLF,
the message at most ``size_limit``, and a dot that starts a line is removed.
What the client sent after the end (pipelined commands) goes back to the
reader for the command loop.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass

END = b"\r\n.\r\n"
_CHUNK = 256 * 1024


class Overrun(enum.Enum):
    """Which limit a message went past, if any (the queue's reply ``Outcome`` is another thing)."""

    NONE = "none"
    TOO_MUCH = "too much"
    LINE_TOO_LONG = "line too long"


@dataclass(frozen=True, slots=True)
class Data:
    overrun: Overrun
    content: bytes  # the message with dots unstuffed, CRLF line ends as sent; empty past a limit
    bare_line_ends: bool = False  # a CR or LF in it that is not part of a CRLF


async def read_data(reader: asyncio.StreamReader, *, size_limit: int | None, line_limit: int) -> Data:
    """Read one message from ``reader`` up to and including its final dot."""
    # A leading CRLF makes the end of an empty message (".\r\n" at once)
    # look like any other; it is not part of the message.
    buffer = bytearray(b"\r\n")
    searched = 0
    too_much: Overrun | None = None
    while True:
        end = buffer.find(END, max(0, searched - len(END) + 1))
        if end >= 0:
            break
        searched = len(buffer)
        if size_limit is not None and len(buffer) - 2 > size_limit + len(END):
            # Over the limit: keep reading to the end, but only the tail that
            # may hold the start of the final dot.
            if too_much is None:
                too_much = _first_refusal(bytes(buffer[2:]), size_limit, line_limit)
            del buffer[2 : len(buffer) - len(END)]
            searched = len(buffer)
        chunk = await reader.read(_CHUNK)
        if not chunk:
            raise ConnectionResetError("the client went away during DATA")
        buffer += chunk
    rest = bytes(buffer[end + len(END) :])
    if rest:
        _unread(reader, rest)
    if too_much is not None:
        return Data(too_much, b"")
    content = bytes(buffer[2 : end + 2])  # every line with its CRLF
    if size_limit is not None and len(content) > size_limit:
        return Data(_first_refusal(content, size_limit, line_limit), b"")
    lines = content.split(b"\r\n")
    if max(map(len, lines)) + 2 > line_limit:
        return Data(Overrun.LINE_TOO_LONG, b"")
    # Counted here, where the CRLFs are known, so nobody counts them again.
    crlfs = len(lines) - 1
    bare = content.count(b"\n") != crlfs or content.count(b"\r") != crlfs
    if content.startswith(b"."):
        content = content[1:]
    return Data(Overrun.NONE, content.replace(b"\r\n.", b"\r\n"), bare)


def _first_refusal(content: bytes, size_limit: int, line_limit: int) -> Overrun:
    """For a message over ``size_limit``: which limit a line-by-line reader meets first.

    It counts each line against the size and then its length, so a line too
    long that ends within the size limit is what it reports.
    """
    within = content[:size_limit]
    complete = within[: within.rfind(b"\r\n") + 2]
    if complete and _longest_line(complete) > line_limit:
        return Overrun.LINE_TOO_LONG
    return Overrun.TOO_MUCH


def _longest_line(content: bytes) -> int:
    """The longest CRLF line in ``content``, with its CRLF."""
    return max(len(line) for line in content.split(b"\r\n")) + 2


def _unread(reader: asyncio.StreamReader, data: bytes) -> None:
    # asyncio's StreamReader has no "unread": its buffer is private (as
    # aiosmtpd itself uses it after STARTTLS); what was read past the end goes
    # back in front of whatever arrived since.
    reader._buffer[0:0] = data  # type: ignore[attr-defined]
