"""A capture relay with its web inbox on free loopback ports, in the test's event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from email.message import EmailMessage

import aiohttp
import pytest

from ..helpers import ACME, SENDER, relay_config, running, seed


def png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    """A small, valid PNG of one colour (the invoice's inline logo)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(colour) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


LOGO = png(120, 24, (31, 95, 191))
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n" + bytes(range(256)) * 40 + b"%%EOF\n"


def invoice(
    subject: str = "Invoice INV-42", to: str = ACME, html: str | None = None, category: str = "invoice.created"
) -> bytes:
    """A billing notification as a billing app sends one: text, HTML with an inline logo, a PDF."""
    message = EmailMessage()
    message["From"] = f"Shop Billing <{SENDER}>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{subject.replace(' ', '-')}@shop.example>"
    message["X-Notification-Category"] = category
    message.set_content(f"Dear customer,\n\nyour invoice {subject} is attached.\n")
    message.add_alternative(
        html or f"<h1>{subject}</h1><p>Dear customer, your <b>invoice</b> is attached.</p><img src='cid:logo@shop'>",
        subtype="html",
    )
    message.get_payload()[1].add_related(LOGO, "image", "png", cid="<logo@shop>", disposition="inline")
    message.add_attachment(PDF, "application", "pdf", filename=f"{subject.split()[-1]}.pdf")
    return message.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@pytest.fixture
async def inbox_relay(directory, tmp_path) -> AsyncIterator:
    """A seeded capture relay serving its inbox; ``.inbox.port`` is the HTTP port."""
    seed(directory)
    config = replace(relay_config(tmp_path), http_host="127.0.0.1", http_port=0)
    async with running(config, directory) as relay:
        yield relay


@pytest.fixture
async def http(inbox_relay) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{inbox_relay.inbox.port}") as session:
        yield session
