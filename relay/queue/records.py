"""The spool's on-disk record format.

A record is a fixed header, a small JSON head and an optional body::

    magic "CPS1" | kind u8 | head_len u32 | body_len u32 | head_crc u32 | body_crc u32
    head (head_len bytes) | body (body_len bytes)

``head_crc`` covers kind, both lengths and the head bytes, ``body_crc`` the
body. A crash can leave the last records of a file half written; those were
never acknowledged (their fsync had not returned), so a reader stops at the
first record that does not check out and ignores the rest of that file.
Everything before it was fsync'd, because fsync flushes all of a file's
earlier writes too.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

MAGIC = b"CPS1"
HEADER = struct.Struct(">4sBIIII")
KIND_MESSAGE = 1
KIND_STATE = 2

# A head is a few hundred bytes; anything bigger in a header is garbage
# from a torn write, and refusing it avoids allocating gigabytes on recovery.
MAX_HEAD = 16 * 1024 * 1024
MAX_BODY = 1024 * 1024 * 1024


class SpoolError(Exception):
    """The spool could not do what was asked; nothing was acknowledged."""


@dataclass(frozen=True, slots=True)
class Record:
    kind: int
    head: bytes
    offset: int
    body_offset: int
    body_len: int
    body_crc: int


def _head_crc(kind: int, head: bytes, body_len: int) -> int:
    return zlib.crc32(struct.pack(">BII", kind, len(head), body_len) + head)


def encode(kind: int, head: bytes, body: bytes = b"") -> bytes:
    """One record, ready to append."""
    header = HEADER.pack(MAGIC, kind, len(head), len(body), _head_crc(kind, head, len(body)), zlib.crc32(body))
    return header + head + body


def scan(f: BinaryIO, *, verify_bodies: bool) -> Iterator[Record]:
    """Yield the intact records of an open file from the start, stopping at the first bad one.

    With ``verify_bodies`` false the bodies are skipped, not read: a reader in
    another process only needs the envelopes, and a body that is fully there
    (the file is long enough) was written by a commit that went through.
    """
    size = os.fstat(f.fileno()).st_size
    offset = 0
    while offset + HEADER.size <= size:
        f.seek(offset)
        head = f.read(HEADER.size)
        if len(head) < HEADER.size:
            return
        magic, kind, head_len, body_len, head_crc, body_crc = HEADER.unpack(head)
        if magic != MAGIC or head_len > MAX_HEAD or body_len > MAX_BODY:
            return
        end = offset + HEADER.size + head_len + body_len
        if end > size:
            return
        head = f.read(head_len)
        if len(head) < head_len or _head_crc(kind, head, body_len) != head_crc:
            return
        body_offset = offset + HEADER.size + head_len
        if verify_bodies and body_len:
            if zlib.crc32(f.read(body_len)) != body_crc:
                return
        yield Record(kind, head, offset, body_offset, body_len, body_crc)
        offset = end


def read_body(path: str | os.PathLike[str], offset: int, length: int, crc: int) -> bytes:
    """Read one record's body and check it against its CRC."""
    with open(path, "rb") as f:
        f.seek(offset)
        body = f.read(length)
    if len(body) != length or zlib.crc32(body) != crc:
        raise SpoolError(f"spool file {os.fspath(path)} is damaged at offset {offset}")
    return body
