"""Can the web portal's answer tell a customer's address from any other?

    .venv/bin/python tests/bench/bench_signin_timing.py [--pairs 60] [--compare DIR]

Starts `contacts-tui portal --web` (with its portal service) on a database of
customers (and an SMTP sink for the code mails), then, as an attacker would, opens sessions with
aiohttp's websocket client and asks for a code, in turn for a customer's
primary email and for an address of nobody (a new customer each time, so the
three-an-hour limit never shows), timing each from the enter key to the
screen that says a code is on its way. ``--compare DIR`` runs the portal of
another checkout (e.g. the code before a change) in the same run, pair by
pair in turn with this one.

Prints, per portal: the medians, how often the customer's answer was the
slower of a pair, and the single-try classification rate: a threshold on the
time chosen on half the tries, scored on the other half (and the other way
round). 50% is a coin; the range a coin lands in at this many tries is
printed beside it, and the rate of the threshold best in hindsight (which
flatters: it is chosen on the very tries it is scored on).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import math
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.waiting import poll  # noqa: E402

ESCAPES = re.compile(r"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
SENT = "acodeisonitsway"
READY = "Sendcode(enter)"
DEADLINE = 60.0
CLI = [sys.executable, "-m", "contacts_tui.cli"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    def listening() -> bool:
        if process.poll() is not None:
            raise SystemExit(f"it ended: {log.read_text()[-2000:]}")
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    poll(listening, DEADLINE, lambda: f"nothing listens on {port}: {log.read_text()[-2000:]}")


@dataclass
class Portal:
    name: str
    source: Path
    folder: Path
    smtp_port: int
    customers: list[str] = field(default_factory=list)
    known: list[float] = field(default_factory=list)
    unknown: list[float] = field(default_factory=list)

    def start(self, database: Path) -> None:
        self.port = free_port()
        self.log = self.folder / f"portal-{self.port}.log"
        mail = ["--mail-via", f"127.0.0.1:{self.smtp_port}", "--mail-from", "portal@shop.example"]
        self.processes: list[subprocess.Popen] = []
        if (self.source / "contacts_tui" / "commands" / "portal_service.py").exists():
            # The data behind a portal service (and its code mails from there).
            sockets = self.folder / f"sockets-{self.port}"
            sockets.mkdir()
            self.run(
                [*CLI, "portal-service", "--db", f"sqlite:///{database}", *mail]
                + ["--socket", str(sockets / "ssh.sock"), "--web-socket", str(sockets / "web.sock")]
            )
            poll(
                lambda: (sockets / "web.sock").exists() or self.processes[0].poll() is not None,
                DEADLINE,
                lambda: f"the portal service did not start: {self.log.read_text()[-2000:]}",
            )
            if self.processes[0].poll() is not None:
                raise SystemExit(f"the portal service ended: {self.log.read_text()[-2000:]}")
            reach = ["--socket", str(sockets / "web.sock")]
        else:  # an older portal, which opened the database itself
            reach = ["--db", f"sqlite:///{database}", *mail]
        self.run([*CLI, "portal", "--web", "--listen", f"127.0.0.1:{self.port}", *reach])
        wait_for_port(self.port, self.processes[-1], self.log)

    def run(self, command: list[str]) -> None:
        self.processes.append(
            subprocess.Popen(
                command,
                stdout=self.log.open("ab"),
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": str(self.source)},
                start_new_session=True,
                cwd=self.folder,
            )
        )

    def stop(self) -> None:
        for process in reversed(self.processes):
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


async def shown(websocket: aiohttp.ClientWebSocketResponse, text: str) -> None:
    # Not through tests/waiting.py: this loop is the stopwatch, each message
    # read the moment it comes, with no pause between reads.
    seen = ""
    end = time.monotonic() + DEADLINE
    while text not in ESCAPES.sub("", seen).replace(" ", ""):
        message = await asyncio.wait_for(websocket.receive(), max(0.01, end - time.monotonic()))
        if message.type != aiohttp.WSMsgType.BINARY:
            raise SystemExit(f"the session ended while waiting for {text!r}: {message}")
        seen = (seen + message.data.decode("utf-8", "replace"))[-100_000:]


async def ask(websocket: aiohttp.ClientWebSocketResponse, address: str) -> float:
    """Type ``address``, then time the enter key to the answer on the screen."""
    await websocket.send_json(["stdin", address])
    await shown(websocket, address)
    start = time.perf_counter()
    await websocket.send_json(["stdin", "\r"])
    await shown(websocket, SENT)
    elapsed = time.perf_counter() - start
    await websocket.send_json(["stdin", "\x1b"])  # escape: another address
    await shown(websocket, READY)
    return elapsed


async def one_pair(client: aiohttp.ClientSession, portal: Portal, number: int) -> None:
    url = f"ws://127.0.0.1:{portal.port}/ws?width=200&height=40"
    websocket = await client.ws_connect(url, origin=f"http://127.0.0.1:{portal.port}")
    try:
        await shown(websocket, READY)
        await websocket.send_json(["focus"])  # as the page does: the address field takes the keys
        await ask(websocket, f"warm-{number}@nowhere.example")  # the session's first answer loads code
        tries = [("known", portal.customers[number]), ("unknown", f"nobody-{number}@acme{number}.example")]
        random.shuffle(tries)
        for kind, address in tries:
            getattr(portal, kind).append(await ask(websocket, address))
    finally:
        await websocket.close()


def best_threshold(known: list[float], unknown: list[float]) -> tuple[float, float, bool]:
    """The threshold (and which side is the customer's) that classifies these tries best: (rate, threshold, slower)."""
    choices = []
    for cut in sorted(known + unknown):
        above = (sum(t > cut for t in known) + sum(t <= cut for t in unknown)) / (len(known) + len(unknown))
        choices += [(above, cut, True), (1 - above, cut, False)]
    return max(choices)


def single_try_rate(known: list[float], unknown: list[float]) -> float:
    """A threshold chosen on one half of the tries, scored on the other half; both ways round."""

    def score(k: list[float], u: list[float], cut: float, slower: bool) -> float:
        right = sum((t > cut) == slower for t in k) + sum((t > cut) != slower for t in u)
        return right / (len(k) + len(u))

    halves = ((known[::2], unknown[::2]), (known[1::2], unknown[1::2]))
    rates = [score(*halves[1 - i], *best_threshold(*halves[i])[1:]) for i in range(2)]
    return statistics.mean(rates)


def report(portal: Portal) -> None:
    known, unknown = portal.known, portal.unknown
    ms = 1000
    slower = sum(k > u for k, u in zip(known, unknown, strict=True)) / len(known)
    coin = 1.96 * math.sqrt(0.25 / (2 * len(known))) * 100
    print(
        f"{portal.name}: {len(known)} pairs; customer median {statistics.median(known) * ms:.1f} ms "
        f"(quartiles {statistics.quantiles(known)[0] * ms:.1f}-{statistics.quantiles(known)[2] * ms:.1f}), "
        f"nobody {statistics.median(unknown) * ms:.1f} ms "
        f"({statistics.quantiles(unknown)[0] * ms:.1f}-{statistics.quantiles(unknown)[2] * ms:.1f}); "
        f"customer slower in {slower * 100:.0f}% of pairs; single-try classification "
        f"{single_try_rate(known, unknown) * 100:.0f}% (a coin: 50 ± {coin:.0f}%), "
        f"{best_threshold(known, unknown)[0] * 100:.0f}% with the threshold best in hindsight"
    )


def build_database(folder: Path, customers: int) -> Path:
    rows = folder / "customers.csv"
    with rows.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["customer_email", "customer_name", "contact_name", "contact_email", "phone", "role", "categories"]
        )
        for number in range(customers):
            writer.writerow([f"billing-{number}@customer{number}.example", f"Customer {number}", "", "", "", "", ""])
    database = folder / "contacts.db"
    subprocess.run(
        [sys.executable, "-m", "contacts_tui.cli", "import", str(rows), "--db", f"sqlite:///{database}"],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return database


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=60)
    parser.add_argument("--compare", metavar="DIR", type=Path, help="another checkout's portal, in the same run")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-signin-"))
    smtp_port = free_port()
    sink_log = folder / "sink.log"
    sink = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink", "-l", f"127.0.0.1:{smtp_port}"],
        stdout=sink_log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for_port(smtp_port, sink, sink_log)
    database = build_database(folder, args.pairs)
    portals = [Portal("this tree", REPO, folder, smtp_port)]
    if args.compare:
        portals.append(Portal(f"compared ({args.compare})", args.compare.resolve(), folder, smtp_port))
    try:
        for number, portal in enumerate(portals):
            copy = folder / f"contacts-{number}.db"
            shutil.copy(database, copy)
            portal.customers = [f"billing-{n}@customer{n}.example" for n in range(args.pairs)]
            portal.start(copy)
        async with aiohttp.ClientSession() as client:
            for number in range(args.pairs):
                for portal in portals:
                    await one_pair(client, portal, number)
                if (number + 1) % 10 == 0:
                    print(f"  {number + 1} of {args.pairs} pairs", file=sys.stderr)
        for portal in portals:
            report(portal)
    finally:
        for portal in portals:
            if hasattr(portal, "processes"):
                portal.stop()
        sink.terminate()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
