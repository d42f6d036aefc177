"""The web inbox in Debian's chromium, headless, driven over its DevTools protocol:
a message arrives live, opens, its HTML renders in the sandboxed frame, its PDF
downloads byte-identical, the panel names who was added; a hostile message runs
nothing and loads nothing. With CONTACTS_SCREENSHOTS=DIR the README's
screenshots (1280x800 and 390x844) are written to DIR."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from aiohttp import web

from ...browser import DEADLINE, Browser, needs_chromium
from ...waiting import wait_until
from ..helpers import ACME, BETA, send
from .conftest import PDF, invoice

pytestmark = needs_chromium


def walk(node: dict):
    yield node
    for child in node.get("children", []):
        yield from walk(child)
    if "contentDocument" in node:
        yield from walk(node["contentDocument"])


async def frame_document(browser: Browser) -> dict | None:
    """The message frame's document, as the DevTools protocol sees it (scripts there are off)."""
    root = (await browser.call("DOM.getDocument", depth=-1, pierce=True))["root"]
    for node in walk(root):
        attributes = node.get("attributes", [])
        if node.get("nodeName") == "IFRAME" and "frame" in attributes[1::2] and "contentDocument" in node:
            return node["contentDocument"]
    return None


async def frame_text(browser: Browser) -> str:
    document = await frame_document(browser)
    return " ".join(n.get("nodeValue", "") for n in walk(document) if n.get("nodeType") == 3) if document else ""


async def until_frame_shows(browser: Browser, text: str) -> None:
    async def shown() -> bool:
        return text in await frame_text(browser)

    await wait_until(shown, DEADLINE, lambda: f"the frame never showed {text!r}", interval=0.1)


async def until_frame_image(browser: Browser, width: int) -> None:
    """Until the frame's first image has loaded at ``width`` pixels (a broken one has none)."""

    async def loaded() -> bool:
        document = await frame_document(browser)
        if document:
            node = await browser.call("DOM.querySelector", nodeId=document["nodeId"], selector="img")
            if node.get("nodeId"):
                quad = (await browser.call("DOM.getBoxModel", nodeId=node["nodeId"]))["model"]
                return quad["width"] == width
        return False

    await wait_until(loaded, DEADLINE, lambda: "the frame's image never loaded", interval=0.1)


async def click_in_frame(browser: Browser, selector: str) -> None:
    """A real mouse click on an element inside the message's frame."""
    document = await frame_document(browser)
    node = await browser.call("DOM.querySelector", nodeId=document["nodeId"], selector=selector)
    quad = (await browser.call("DOM.getBoxModel", nodeId=node["nodeId"]))["model"]["content"]
    x, y = (quad[0] + quad[4]) / 2, (quad[1] + quad[5]) / 2
    for kind in ("mousePressed", "mouseReleased"):
        await browser.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)


async def save(browser: Browser, name: str, tmp_path: Path) -> None:
    folder = os.environ.get("CONTACTS_SCREENSHOTS")
    await browser.screenshot(Path(folder) / name if folder else tmp_path / name)


@pytest.fixture
def url(inbox_relay) -> str:
    return f"http://127.0.0.1:{inbox_relay.inbox.port}/"


async def open_inbox(url: str, tmp_path: Path, size=(1280, 800)) -> Browser:
    # A sandboxed frame keeps its own process in chromium by default, out of the page's DOM
    # tree; in the page's process (the sandbox and its policy the same) the test reads it there.
    browser = Browser(url, tmp_path / f"chromium-{size[0]}", size, "--disable-features=IsolateSandboxedIframes")
    await browser.connect()
    await browser.call(
        "Emulation.setDeviceMetricsOverride", width=size[0], height=size[1], deviceScaleFactor=1, mobile=size[0] < 500
    )
    await browser.until("document.getElementById('live') && document.getElementById('live').classList.contains('on')")
    return browser


async def test_a_tester_sees_an_invoice_arrive_opens_it_and_downloads_its_pdf(inbox_relay, url, tmp_path, sqlite_url):
    browser = await open_inbox(url, tmp_path)
    try:
        await browser.evaluate("window.stayed = true")
        assert (await send(inbox_relay.port, [ACME], invoice())).code == 250
        # It arrives in the open page, which was not loaded again.
        await browser.until("document.querySelectorAll('#messages li').length === 1")
        assert await browser.evaluate("window.stayed") is True
        assert "+3 cc" in await browser.evaluate("document.querySelector('#messages li').textContent")
        await browser.evaluate("document.querySelector('#messages .row').click()")
        await browser.until("document.getElementById('subject').textContent === 'Invoice INV-42'")
        await until_frame_shows(browser, "Dear customer, your")
        # Its logo, a part of the message, is shown in the frame (a 120x24 image).
        await until_frame_image(browser, 120)
        panel = await browser.evaluate("document.getElementById('contacts').innerText")
        assert "Jörg Buchhalter <books@acme.example>" in panel and ACME in panel and "opted in to billing" in panel
        assert "receives all notifications" in panel
        # The headers tab shows the Cc the relay added beside the original's nothing.
        await browser.evaluate("document.querySelector('[data-tab=headers]').click()")
        added = await browser.evaluate("[...document.querySelectorAll('#diff td.added')].map(c => c.innerText)")
        assert [cell for cell in added if cell.startswith("Cc: Jörg Buchhalter")]
        # The PDF downloads byte for byte.
        downloads = tmp_path / "downloads"
        downloads.mkdir()
        await browser.call("Browser.setDownloadBehavior", behavior="allow", downloadPath=str(downloads))
        await browser.evaluate("document.querySelector('[data-tab=attachments]').click()")
        await browser.evaluate("document.querySelector('#attachments a.download').click()")
        pdf = downloads / "INV-42.pdf"
        await wait_until(
            lambda: pdf.exists() and pdf.stat().st_size == len(PDF), DEADLINE, lambda: list(downloads.iterdir())
        )
        assert pdf.read_bytes() == PDF
        assert not [text for text in browser.complaints() if "Content Security Policy" in text and "frame" not in text]
        # The README's pictures: a second message, the invoice open on its HTML.
        await send(inbox_relay.port, [BETA], invoice("Reminder R-7", to=BETA, category="payment.reminder"))
        await browser.until("document.querySelectorAll('#messages li').length === 2")
        await browser.evaluate("document.querySelector('[data-tab=html]').click()")
        await save(browser, "inbox-1280x800.png", tmp_path)
    finally:
        await browser.close()


async def test_on_a_phone_the_list_and_a_message_take_the_screen_in_turn(inbox_relay, url, tmp_path):
    for recipient, data in ((ACME, invoice()), (BETA, invoice("Reminder R-7", to=BETA, category="payment.reminder"))):
        assert (await send(inbox_relay.port, [recipient], data)).code == 250
    browser = await open_inbox(url, tmp_path, (390, 844))
    try:
        await browser.until("document.querySelectorAll('#messages li').length === 2")
        assert await browser.evaluate("document.documentElement.scrollWidth <= 390")  # nothing runs off the side
        await save(browser, "inbox-390x844-list.png", tmp_path)
        await browser.evaluate("document.querySelectorAll('#messages .row')[1].click()")
        await browser.until("document.getElementById('subject').textContent === 'Invoice INV-42'")
        await until_frame_shows(browser, "Dear customer, your")
        assert await browser.evaluate("getComputedStyle(document.getElementById('list')).display") == "none"
        assert await browser.evaluate("document.documentElement.scrollWidth <= 390")
        await save(browser, "inbox-390x844-message.png", tmp_path)
        await browser.evaluate("document.getElementById('back').click()")
        await browser.until("getComputedStyle(document.getElementById('list')).display !== 'none'")
    finally:
        await browser.close()


@pytest.fixture
async def canary():
    """A web server on another port that counts what reaches it: a sender's tracking host."""
    hits: list[str] = []

    async def record(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text="seen", content_type="image/gif" if request.path == "/img" else "text/plain")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", hits
    await runner.cleanup()


async def test_a_hostile_message_runs_nothing_and_loads_nothing(inbox_relay, url, tmp_path, canary):
    far, hits = canary
    hostile = f"""<html><head>
<meta http-equiv="refresh" content="0;url={far}/refresh">
<link rel="stylesheet" href="{far}/css">
<style>@import url("{far}/import"); body {{ background: url("{far}/background") }}</style>
<script>fetch("{far}/script"); parent.document.title = "taken"; top.location = "{far}/top-script";</script>
</head><body onload="fetch('{far}/onload')">
<p>Hostile hello</p>
<img src="{far}/img" width="20" height="20"><img src="nothing" onerror="fetch('{far}/onerror')">
<iframe src="{far}/iframe"></iframe><object data="{far}/object"></object><video src="{far}/video"></video>
<svg onload="fetch('{far}/svg')"></svg>
<form action="{far}/form" method="post"><input name="a" value="b">
<button id="go" style="width:80px;height:30px">Go</button></form>
<p><a id="link" href="{far}/link" style="display:inline-block;width:80px;height:30px">Click</a></p>
<p><a id="top" href="{far}/top" target="_top" style="display:inline-block;width:80px;height:30px">Top</a></p>
</body></html>"""
    assert (await send(inbox_relay.port, [ACME], invoice(html=hostile))).code == 250
    browser = await open_inbox(url, tmp_path)
    dialogs = []
    try:
        await browser.call("Page.enable")
        await browser.until("document.querySelectorAll('#messages li').length === 1")
        await browser.evaluate("document.querySelector('#messages .row').click()")
        await until_frame_shows(browser, "Hostile hello")
        for target in ("#link", "#top", "#go"):
            await click_in_frame(browser, target)
        # Remote content allowed: the image loads now (the server counts), scripts and forms still never run.
        await browser.evaluate("document.getElementById('remote').click()")
        await wait_until(lambda: "/img" in hits, DEADLINE, lambda: hits)
        await until_frame_shows(browser, "Hostile hello")
        dialogs = [m for m in browser.messages if m.get("method") == "Page.javascriptDialogOpening"]
        ran = {"/script", "/top-script", "/onload", "/onerror", "/svg", "/form", "/link", "/top", "/refresh"}
        assert ran.isdisjoint(hits), hits
        assert {"/iframe", "/object", "/video"}.isdisjoint(hits), hits
        assert await browser.evaluate("document.title") == "Captured mail · contacts-relay"
        assert await browser.evaluate("location.href") == url + "#1"
        assert dialogs == []
    finally:
        await browser.close()
