"""What one web portal session costs: memory, start time, and how many fit in 2 GB.

    .venv/bin/python tests/bench/bench_portal_sessions.py [--sessions 10] [--rounds 3]

Starts a portal service and two `contacts-tui portal --web` servers on it:
sessions started cold (a new interpreter each, --cold-sessions: the code
before the warmed parent) and sessions forked from the warmed parent. One
headless chromium opens --sessions pages on each, one after the other, and
times each from the page's navigation to the portal's first screen (the
sign-in screen). Then every page is used: an address typed and erased, the
help screen opened and closed, the window resized, --rounds times. Each
session process is measured from /proc/PID/smaps_rollup at rest (after its
first screen) and after the workload: RSS, PSS (shared pages split among
the processes sharing them: the honest share of one session) and USS (its
own pages). Sessions in 2 GB: 2048 MiB less the server and the warmed
parent, divided by the mean PSS after the workload.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.bench_signin_timing import CLI, DEADLINE, free_port, wait_for_port  # noqa: E402
from tests.browser import CHROMIUM  # noqa: E402
from tests.processes import children, command_line, descendants  # noqa: E402
from tests.waiting import poll, wait_until  # noqa: E402

MIB = 1024 * 1024
BUDGET_MIB = 2048
# Set on the page before its own scripts run: when the terminal's first bytes arrived.
FIRST_SCREEN = """new MutationObserver(() => {
  if (!window.firstScreen && document.body.classList.contains('-first-byte')) window.firstScreen = performance.now();
}).observe(document, {attributes: true, subtree: true, attributeFilter: ['class']});"""


def memory(pid: int) -> dict[str, float]:
    """RSS, PSS and USS of the process in MiB (smaps_rollup); {} once it has ended."""
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return {}
    kb = {line.split(":")[0]: int(line.split()[1]) for line in lines[1:] if line.split()[-1] == "kB"}
    return {
        "rss": kb["Rss"] / 1024,
        "pss": kb["Pss"] / 1024,
        "uss": (kb["Private_Clean"] + kb["Private_Dirty"]) / 1024,
    }


def cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


@dataclass
class Server:
    name: str
    options: list[str]
    folder: Path
    socket: Path
    starts: list[float] = field(default_factory=list)
    rest: list[dict[str, float]] = field(default_factory=list)
    used: list[dict[str, float]] = field(default_factory=list)

    def start(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = self.folder / f"portal-{self.port}.log"
        self.process = subprocess.Popen(
            [*CLI, "portal", "--web", "--socket", str(self.socket), "--listen", f"127.0.0.1:{self.port}"]
            + ["--max-sessions", "500", "--max-per-client", "500", *self.options],
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            start_new_session=True,
        )
        wait_for_port(self.port, self.process, self.log)

    def parent(self) -> int | None:
        return next((p for p in children(self.process.pid) if "--sessions-parent" in command_line(p)), None)

    def sessions(self) -> list[int]:
        parent = self.parent()
        return [p for p in descendants(self.process.pid) if "--web-session" in command_line(p) and p != parent]

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)


class Page:
    """One tab of the browser, driven over its own DevTools websocket."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket
        self.ids = 0

    async def call(self, method: str, **params) -> dict:
        self.ids += 1
        number = self.ids
        await self.socket.send_json({"id": number, "method": method, "params": params})
        while True:
            message = json.loads(await asyncio.wait_for(self.socket.receive_str(), DEADLINE))
            if message.get("id") == number:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message.get("result", {})

    async def evaluate(self, expression: str):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    async def key(self, key: str, code: int = 0, text: str = "") -> None:
        named = {"key": key, "windowsVirtualKeyCode": code}
        await self.call("Input.dispatchKeyEvent", type="keyDown", text=text, **named)
        await self.call("Input.dispatchKeyEvent", type="keyUp", **named)


async def open_page(client: aiohttp.ClientSession, devtools: int) -> Page:
    async with client.put(f"http://127.0.0.1:{devtools}/json/new?about:blank") as response:
        target = await response.json()
    page = Page(await client.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0))
    await page.call("Page.enable")
    await page.call("Page.addScriptToEvaluateOnNewDocument", source=FIRST_SCREEN)
    return page


async def first_screen(page: Page, url: str) -> float:
    """Seconds from the navigation to the portal's first screen."""
    await page.call("Page.navigate", url=url)
    shown = await wait_until(lambda: page.evaluate("window.firstScreen || 0"), DEADLINE, interval=0.02)
    return shown / 1000


async def workload(page: Page, rounds: int) -> None:
    await page.evaluate("document.querySelector('.xterm-helper-textarea').focus()")
    for round_ in range(rounds):
        address = f"someone-{round_}@customer.example"
        for character in address:
            await page.key(character, text=character)
        for _ in address:
            await page.key("Backspace", 8)
        await page.key("F1", 112)
        await page.key("Escape", 27)
        for width, height in ((1600, 1000), (700, 450), (1000, 700)):
            await page.call(
                "Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False
            )


def settled(pids: list[int]) -> bool:
    """Whether the sessions have done drawing: no CPU used in a tenth of a second."""
    before = [cpu_ticks(pid) for pid in pids]
    poll(lambda: False, 0.1, fail=False)
    return before == [cpu_ticks(pid) for pid in pids]


async def measure(server: Server, client: aiohttp.ClientSession, devtools: int, sessions: int, rounds: int) -> None:
    pages = []
    for _ in range(sessions):
        page = await open_page(client, devtools)
        server.starts.append(await first_screen(page, server.url))
        pages.append(page)
    pids = await wait_until(lambda: len(found := server.sessions()) == sessions and found, DEADLINE)
    await wait_until(lambda: settled(pids), DEADLINE)
    server.rest = [memory(pid) for pid in pids]
    await asyncio.gather(*(workload(page, rounds) for page in pages))
    await wait_until(lambda: settled(pids), DEADLINE)
    server.used = [memory(pid) for pid in pids]
    server.overhead = sum(memory(pid).get("pss", 0) for pid in (server.process.pid, server.parent()) if pid)
    for page in pages:
        await page.call("Page.navigate", url="about:blank")
        await page.socket.close()
    await wait_until(lambda: not server.sessions(), DEADLINE)


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):6.1f} ({min(values):.1f}-{max(values):.1f})"


def report(server: Server) -> None:
    print(f"\n{server.name}: {len(server.rest)} sessions")
    print("  first screen, s (median, range)  " + spread(server.starts).replace("  ", " "))
    for kind in ("rss", "pss", "uss"):
        at_rest, after = [m[kind] for m in server.rest], [m[kind] for m in server.used]
        print(f"  {kind.upper()} MiB at rest {spread(at_rest)}   after the workload {spread(after)}")
    per_session = statistics.mean(m["pss"] for m in server.used)
    fit = int((BUDGET_MIB - server.overhead) / per_session)
    print(f"  server and warmed parent {server.overhead:.0f} MiB PSS; sessions in {BUDGET_MIB} MiB: {fit}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if CHROMIUM is None:
        raise SystemExit("chromium is not installed")
    folder = Path(tempfile.mkdtemp(prefix="bench-sessions-"))
    sockets = folder / "sockets"
    sockets.mkdir()
    database = f"sqlite:///{folder / 'contacts.db'}"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([*CLI, "init", "--db", database], check=True, stdout=subprocess.DEVNULL, env=env)
    service_log = (folder / "service.log").open("wb")
    service = subprocess.Popen(
        [*CLI, "portal-service", "--db", database, "--mail-via", "127.0.0.1:9", "--mail-from", "portal@shop.example"]
        + ["--socket", str(sockets / "ssh.sock"), "--web-socket", str(sockets / "web.sock")],
        stdout=service_log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    poll(lambda: (sockets / "web.sock").exists(), DEADLINE)
    servers = [
        Server("cold: a new interpreter per session (before)", ["--cold-sessions"], folder, sockets / "web.sock"),
        Server("forked from the warmed parent", [], folder, sockets / "web.sock"),
    ]
    profile = folder / "chromium"
    browser = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        + ["--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}"]
        + ["--disable-background-timer-throttling", "--disable-renderer-backgrounding"]
        + ["--remote-debugging-port=0", "--window-size=1000,700", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        devtools = int(poll(lambda: port_file.exists() and port_file.read_text().split("\n")[0], DEADLINE))
        async with aiohttp.ClientSession() as client:
            for server in servers:
                server.start()
                await measure(server, client, devtools, args.sessions, args.rounds)
                server.stop()
        for server in servers:
            report(server)
    finally:
        for server in servers:
            if hasattr(server, "process") and server.process.poll() is None:
                server.stop()
        for process in (browser, service):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(20)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
