"""Reading DATA in chunks gives what aiosmtpd's line-by-line reading gives, for any bytes."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from relay.server.data import Overrun, read_data

LINE_LIMIT = 40
SIZE_LIMIT = 300


def line_by_line(stream: bytes) -> tuple[Overrun, bytes, bytes]:
    """aiosmtpd 1.4's rules: CRLF lines, '.' CRLF ends, limits checked, leading dots removed; what is left."""
    lines, offset, size, state = [], 0, 0, Overrun.NONE
    while True:
        end = stream.index(b"\r\n", offset) + 2
        line = stream[offset:end]
        offset = end
        if line == b".\r\n":
            break
        size += len(line)
        if state is Overrun.NONE and size > SIZE_LIMIT:
            state = Overrun.TOO_MUCH
        if state is Overrun.NONE and len(line) > LINE_LIMIT:
            state = Overrun.LINE_TOO_LONG
        lines.append(line[1:] if line.startswith(b".") else line)
    return state, b"".join(lines) if state is Overrun.NONE else b"", stream[offset:]


pieces = st.sampled_from(
    [b"a", b"bc", b".", b"..", b"\r", b"\n", b"\r\n", b"\r\n.", b"x" * 30, b"y" * 45, b"\x00", b"\xff"]
)


@settings(max_examples=500, deadline=None)
@given(
    body=st.lists(pieces, max_size=60).map(b"".join),
    after=st.sampled_from([b"", b"QUIT\r\n", b"RSET\r\nNOOP\r\n"]),
    chunk=st.integers(1, 50),
)
def test_chunked_reading_agrees_with_reading_line_by_line(body, after, chunk):
    stream = body + (b"" if body.endswith(b"\r\n") or not body else b"\r\n") + b".\r\n" + after
    # Make sure the reference sees the same end: the first CRLF.CRLF (or a '.' line at once).
    expected_state, expected, rest = line_by_line(stream)

    async def run():
        reader = asyncio.StreamReader(limit=LINE_LIMIT + 1)
        for start in range(0, len(stream), chunk):
            reader.feed_data(stream[start : start + chunk])
        reader.feed_eof()
        data = await read_data(reader, size_limit=SIZE_LIMIT, line_limit=LINE_LIMIT)
        return data, await reader.read()

    data, left = asyncio.run(run())
    assert (data.overrun, data.content, left) == (expected_state, expected, rest)
