"""The portal in a browser: `contacts-tui portal --web` as a real server
process asking a real portal service, read with urllib for its headers and
page, and used in Debian's chromium (headless, driven over its DevTools
protocol): run as an account that cannot read the database, as the README
sets it up, the sign-in screen takes an address, the code arrives at a real
capture relay, and typing it signs the customer in over the "web" channel."""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from contacts_tui.core.directory.service import Directory
from contacts_tui.core.mail import relay_log
from contacts_tui.core.records import CustomerInput
from relay.app import RelayThread

from ...accounts import Separated, needs_accounts, separated_portal
from ...browser import DEADLINE, Browser, needs_chromium
from ...capture import capture_relay
from ...portal_service import RunningService, running_service
from ...processes import children, command_line, descendants
from ...waiting import poll, wait_until

URL_IN_TEXT = re.compile(r"""(?:(?:https?|wss?):)?//[^\s"'<>)]+""")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def program() -> list[str]:
    script = Path(sys.executable).with_name("contacts-tui")
    return [str(script)] if script.exists() else [sys.executable, "-m", "contacts_tui.cli"]


def get(url: str, **headers: str):
    request = urllib.request.Request(url, headers=headers)
    try:
        return urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as error:
        return error


@pytest.fixture
def relay(sqlite_directory: Directory, tmp_path: Path) -> Iterator[RelayThread]:
    with capture_relay(sqlite_directory, tmp_path) as thread:
        yield thread


@pytest.fixture
def service(sqlite_directory: Directory, relay: RelayThread, tmp_path: Path) -> Iterator[RunningService]:
    with running_service(sqlite_directory, tmp_path, relay.port) as running:
        yield running


@dataclass
class Served:
    """A running `contacts-tui portal --web`: its URL and its process (the session processes are below it)."""

    url: str
    process: subprocess.Popen
    log_file: Path

    def sessions(self) -> list[int]:
        """The pids of its session processes (the portals, not a shell that may run one,
        nor the warmed parent they are forked from: the one the server itself started)."""
        parent = self.warmed_parent()
        return [
            pid
            for pid in descendants(self.process.pid)
            if "--web-session" in (argv := command_line(pid)) and not argv[0].endswith("sh") and pid != parent
        ]

    def warmed_parent(self) -> int | None:
        """The pid of the warmed parent the sessions are forked from; None when sessions start cold."""
        return next((pid for pid in children(self.process.pid) if "--sessions-parent" in command_line(pid)), None)


@contextmanager
def serving(socket: Path, tmp_path: Path, *options: str, setup: Separated | None = None) -> Iterator[str]:
    """`contacts-tui portal --web` on a free loopback port, asking the service
    at ``socket``: as this account, or as the portal's of ``setup``. Yields its URL."""
    with serving_portal(socket, tmp_path, *options, setup=setup) as served:
        yield served.url


@contextmanager
def serving_portal(socket: Path, tmp_path: Path, *options: str, setup: Separated | None = None) -> Iterator[Served]:
    """``serving``, yielding the server's process as well."""
    port = free_port()
    log_file = tmp_path / f"portal-{port}.log"
    log = log_file.open("wb")
    as_account = {}
    command = program()
    if setup is not None:
        account = setup.portal
        command = setup.command()
        as_account = {
            "user": account.pw_uid,
            "group": account.pw_gid,
            "extra_groups": [],
            "env": setup.environment(account),
        }
    server = subprocess.Popen(
        [*command, "portal", "--socket", str(socket), "--web", "--listen", f"127.0.0.1:{port}", *options],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        **as_account,
    )
    url = f"http://127.0.0.1:{port}/"

    def up() -> bool:
        if server.poll() is not None:
            raise AssertionError(f"the server ended: {log_file.read_text()}")
        try:
            return get(url).status == 200
        except OSError:
            return False

    try:
        poll(up, DEADLINE, log_file.read_text)
        yield Served(url, server, log_file)
    finally:
        # The server and the session processes it started for browsers.
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


@pytest.fixture
def portal(service: RunningService, tmp_path: Path) -> Iterator[str]:
    with serving(service.sockets["web"], tmp_path) as url:
        yield url


def test_every_response_carries_the_security_headers(portal: str) -> None:
    for path in ("", "static/js/textual.js", "static/css/xterm.css", "portal/portal.js", "no-such-page", "ws"):
        response = get(portal + path)
        headers = response.headers
        policy = headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy, path
        assert "frame-ancestors 'none'" in policy and headers["X-Frame-Options"] == "DENY", path
        assert headers["Cache-Control"] == "no-store", path
        assert headers["Referrer-Policy"] == "no-referrer", path
        assert headers["X-Content-Type-Options"] == "nosniff", path


def test_the_page_names_no_other_host(portal: str) -> None:
    page = get(portal).read().decode()
    assert "textual-terminal" in page
    for path in re.findall(r'(?:href|src)="([^"]+)"', page):
        assert "//" not in path, f"{path} is not this server's"
        assert path.startswith("data:") or get(portal + path).status == 200, path
    style = get(portal + "portal/portal.css").read().decode()
    # Only the W3C's own namespace URL in the SVG markup is allowed to look like one.
    assert [u for u in URL_IN_TEXT.findall(page + style) if "www.w3.org" not in u] == []
    assert "fonts.googleapis" not in page + style


async def test_sessions_beyond_the_limit_are_refused_until_one_ends(service: RunningService, tmp_path: Path) -> None:
    import aiohttp

    with serving(service.sockets["web"], tmp_path, "--max-sessions", "1") as url:
        socket_url = url.replace("http:", "ws:") + "ws"
        origin = url.rstrip("/")
        async with aiohttp.ClientSession() as session:
            first = await session.ws_connect(socket_url, origin=origin)
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(socket_url, origin=origin)
            assert refused.value.status == 503
            await first.close()

            async def again():
                try:
                    return await session.ws_connect(socket_url, origin=origin)
                except aiohttp.WSServerHandshakeError:
                    return None

            second = await wait_until(again, DEADLINE, lambda: "the ended session was never given back", interval=0.1)
            await second.close()


def test_no_listing_of_files_and_no_websocket_from_another_site(portal: str) -> None:
    assert get(portal + "static/js/").status in (403, 404)
    forbidden = get(
        portal + "ws",
        Origin="https://evil.example",
        Connection="Upgrade",
        Upgrade="websocket",
        **{"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"},
    )
    assert forbidden.status == 403


# -- a real browser ----------------------------------------------------------


async def captured_code(address: str) -> str:
    def code():
        for record in relay_log.captured_messages(20):
            if address in record.recipients:
                _record, _original, message = relay_log.captured_message(record.id)
                found = re.search(rb"(?:sign-in code|inlogcode): (\d{6})", message)
                if found:
                    return found.group(1).decode()
        return None

    return await wait_until(code, DEADLINE, lambda: [m.subject for m in relay_log.captured_messages(20)])


@needs_chromium
async def test_typing_reaches_the_sign_in_field_without_a_click(
    portal: str, sqlite_directory: Directory, tmp_path: Path
) -> None:
    sqlite_directory.create_customer(CustomerInput("Acme Trading Ltd", "accounts@acme-trading.example"))
    browser = Browser(portal, tmp_path / "chromium")
    try:
        await browser.connect()
        await browser.until("document.body.classList.contains('-first-byte')")
        # No click, no focus() from here: the page gave the terminal the keyboard itself.
        await browser.until("document.activeElement.classList.contains('xterm-helper-textarea')")
        await browser.type("accounts@acme-trading.example")
        await browser.key("Enter", 13)
        assert await captured_code("accounts@acme-trading.example")
    finally:
        await browser.close()


@pytest.fixture
def separated() -> Iterator[Separated]:
    with separated_portal() as setup:
        yield setup


@pytest.mark.slow
@needs_accounts
@needs_chromium
async def test_a_customer_signs_in_in_chromium_as_an_account_that_cannot_read_the_database(
    separated: Separated, tmp_path: Path
) -> None:
    directory = separated.directory
    customer = directory.create_customer(CustomerInput("Acme Trading Ltd", "accounts@acme-trading.example"))
    denied = separated.as_portal("-c", f"open({str(separated.database)!r}, 'rb')")
    assert denied.returncode != 0 and "Permission denied" in denied.stderr, denied
    with serving(separated.sockets["web"], tmp_path, setup=separated) as portal:
        browser = Browser(portal, tmp_path / "chromium")
        try:
            await use_the_portal(browser, directory, customer.id)
            # The web server and each browser session run as the portal's account.
            sessions = [
                line.split()
                for line in subprocess.run(
                    ["ps", "-ww", "-eo", "user:32,args"], capture_output=True, text=True
                ).stdout.splitlines()
                if "--web-session" in line and separated.python in line  # this test's, not another run's
            ]
            assert sessions and {fields[0] for fields in sessions} == {separated.portal.pw_name}
        except BaseException:
            # What the browser showed, for whoever reads the failure.
            shot = await browser.call("Page.captureScreenshot")
            (tmp_path / "chromium.png").write_bytes(base64.b64decode(shot["data"]))
            print(f"the browser's screen: {tmp_path / 'chromium.png'}")
            raise
        finally:
            await browser.close()


async def use_the_portal(browser: Browser, directory: Directory, customer_id: int) -> None:
    """Sign in with the mailed code and add a contact person, in the browser."""
    await browser.connect()
    # The page loaded textual.js, opened its websocket and got the portal's first screen.
    await browser.until("document.body.classList.contains('-first-byte')")
    assert await browser.evaluate("document.querySelector('.intro-dialog').offsetParent") is None
    # The sign-in screen has the focus on its address field: typing there asks for a code.
    await browser.until("document.activeElement.classList.contains('xterm-helper-textarea')")
    await browser.type("accounts@acme-trading.example")
    await browser.key("Enter", 13)
    code = await captured_code("accounts@acme-trading.example")
    await browser.type(code)
    await browser.key("Enter", 13)
    signed_in = await wait_until(lambda: directory.get_customer(customer_id).last_sign_in_channel == "web", DEADLINE)
    assert signed_in
    # Signed in, a contact person added in the browser is the customer's, recorded as made on the web.
    # The keys behind a wait for the form it opens (the app holds them), as typed ones do.
    await browser.key("a", 65)
    await browser.type("Bea Bookman")
    await browser.key("Tab", 9)
    await browser.type("bea@acme-trading.example")
    await browser.key("s", 83, ctrl=True)

    def added():
        return [c for c in directory.list_contacts(customer_id) if c.email == "bea@acme-trading.example"]

    await wait_until(added, DEADLINE)
    (change,) = [c for c in directory.history(customer_id=customer_id) if c.action == "contact added"]
    assert (change.who, change.channel) == ("accounts@acme-trading.example", "web")
    assert not [text for text in browser.complaints() if "Content Security Policy" in text]


@needs_chromium
async def test_the_page_says_why_a_session_ended(service: RunningService, tmp_path: Path) -> None:
    with serving(service.sockets["web"], tmp_path, "--sign-in-timeout", "2s") as url:
        browser = Browser(url, tmp_path / "chromium")
        try:
            await browser.connect()
            await browser.until("document.body.classList.contains('-first-byte')")
            # Nobody signs in: the session ends, and the page says so in the customer's words.
            await browser.until("document.body.classList.contains('-closed')")
            why = await browser.evaluate("document.getElementById('ended-why').textContent")
            assert why == "The session ended: nobody signed in for 2 seconds."
            assert await browser.evaluate("document.querySelector('.closed-dialog').offsetParent !== null")
            assert not [text for text in browser.complaints() if "Content Security Policy" in text]
        finally:
            await browser.close()


# -- the browser's language ---------------------------------------------------


def test_the_page_speaks_the_language_the_browser_prefers(portal: str) -> None:
    dutch = get(portal, **{"Accept-Language": "nl-NL,nl;q=0.9,en-US;q=0.8,en;q=0.7"}).read().decode()
    assert '<html lang="nl">' in dutch
    assert "<title>Portaal contactpersonen</title>" in dutch and "Opnieuw starten" in dutch
    english = get(portal, **{"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}).read().decode()
    assert '<html lang="en">' in english and "Start again" in english and "Opnieuw" not in english


@pytest.mark.slow
@needs_chromium
async def test_a_dutch_browser_s_forked_session_speaks_dutch(service: RunningService, tmp_path: Path) -> None:
    # Sessions are forked from a parent warmed with no browser's environment:
    # the language must reach the fork, which says why it ended in it.
    with serving(service.sockets["web"], tmp_path, "--sign-in-timeout", "2s") as portal:
        browser = Browser(portal, tmp_path / "chromium", (1000, 700), "--accept-lang=nl-NL,nl")
        try:
            await browser.connect()
            await browser.until("document.body.classList.contains('-first-byte')")
            assert await browser.evaluate("document.documentElement.lang") == "nl"
            await browser.until("document.body.classList.contains('-closed')")
            why = await browser.evaluate("document.getElementById('ended-why').textContent")
            assert why == "De sessie is beëindigd: niemand heeft zich binnen 2 seconden aangemeld."
        finally:
            await browser.close()


@pytest.mark.slow
@needs_chromium
async def test_a_dutch_customer_in_a_dutch_browser_gets_dutch_and_the_code_mail_in_dutch(
    sqlite_directory: Directory, service: RunningService, tmp_path: Path
) -> None:
    devries = sqlite_directory.create_customer(CustomerInput("Bakkerij de Vries", "info@bakkerij-devries.example"))
    sqlite_directory.set_language(devries.id, "nl")
    with serving(service.sockets["web"], tmp_path) as portal:
        browser = Browser(portal, tmp_path / "chromium", (1000, 700), "--accept-lang=nl-NL,nl")
        try:
            await browser.connect()
            await browser.until("document.body.classList.contains('-first-byte')")
            assert await browser.evaluate("document.documentElement.lang") == "nl"
            await browser.evaluate("document.querySelector('.xterm-helper-textarea').focus()")
            await browser.type("info@bakkerij-devries.example")
            await browser.key("Enter", 13)
            code = await captured_code("info@bakkerij-devries.example")
            (record,) = [r for r in relay_log.captured_messages(20) if "info@bakkerij-devries.example" in r.recipients]
            assert record.subject == "Uw inlogcode voor het portaal contactpersonen"
            mail = relay_log.captured_message(record.id)[2]
            assert b"Content-Language: nl" in mail and b"Uw inlogcode: " in mail, mail
            await browser.type(code)
            await browser.key("Enter", 13)
            signed_in = await wait_until(
                lambda: sqlite_directory.get_customer(devries.id).last_sign_in_channel == "web", DEADLINE
            )
            assert signed_in
            # The screen itself is drawn on a canvas: this picture is for whoever looks.
            await browser.screenshot(tmp_path / "dutch.png")
        finally:
            await browser.close()
