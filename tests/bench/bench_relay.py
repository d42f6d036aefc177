"""The relay against the Postfix it replaces: messages per second, the 250's latency, memory.

    python tests/bench/bench_relay.py --peer 2700 [--rounds 3] [--messages 5000] [--only NAME ...]
                                      [--pg URL] [--cache DIR] [--rules N] [--sink-port PORT]

Every figure is a billing run: notifications from smtp-source, each to its own
customer "<n>cust@example.com" with three contact persons opted in to billing,
through the relay to Postfix's smtp-sink on 127.0.0.1:2600; "end to end" is
messages per second until the sink has them all, three people added to each.
The peer (--peer, see postfix_peer.sh) is a Postfix whose recipient_bcc_maps
add the same three people, measured the same way in the same run, round by
round in turn with the relay, since this machine's speed drifts. Each figure
is the median of --rounds runs, with their range. Needs Postfix's smtp-source
and smtp-sink (Debian: postfix).

NAME is one of: sessions (1, 8 and 64 sessions, 3 KiB), big (200 KiB),
directory (1,000 and 1,000,000 customers), postgres (with --pg), latency
(p50/p99 of the 250 at 8 sessions), memory (RSS over 100,000 messages), cpu
(the relay's CPU time per message at 8 sessions: to compare two checkouts on
a busy machine, run it from each in turn), rules (with --rules N: N enabled
tagging rules against none, in the same run, round by round in turn; needs
no peer).
The million-customer directory is built once into --cache (a few minutes).

"rules": the same notification, 8 sessions, 3 KiB, three people added; without
rules it carries the category header, with them it carries none and the last of
the N rules tags it (each rule has a From domain and a Subject text; the first
N-1 match neither), so the relay reads the rules' version, matches every rule
and keeps the message's headers for `rules try`. A third figure: the N rules
in place, the notification with its header (rules are not asked).
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import re
import shutil
import signal
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SINK_PORT = 2600
MIB = 1024 * 1024


# -- what is sent ------------------------------------------------------------------


def notification(size: int, header: bool = True) -> bytes:
    """A billing notification of about ``size`` bytes: a text invoice, or past 16 KiB one with a PDF attached;
    without ``header``, no X-Notification-Category (a sender that cannot add one).

    With LF line ends, as smtp-source wants its file: it sends each line with CRLF.
    """
    return _notification(size, header).replace(b"\r\n", b"\n")


def _notification(size: int, header: bool = True) -> bytes:
    head = (
        "From: Billing <billing@shop.example>\r\nTo: Customer <cust@example.com>\r\n"
        "Subject: Your invoice INV-2026-0001\r\nMessage-ID: <inv-0001@shop.example>\r\n"
        "Date: Sun, 22 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        + ("X-Notification-Category: billing\r\n" if header else "")
    )
    text = "Dear customer,\r\n\r\nPlease find your invoice INV-2026-0001 for EUR 120.00 attached.\r\n"
    if size <= 16 * 1024:
        filler = "".join(f"Line {n:03}: item, quantity, unit price and amount of the invoice.\r\n" for n in range(500))
        body = (text + filler)[: max(0, size - len(head) - 60)]
        return (head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\nKind regards\r\n").encode()
    pdf = base64.encodebytes(random.Random(7).randbytes(size * 3 // 4)).replace(b"\n", b"\r\n")
    return (
        head.encode()
        + b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n'
        + text.encode()
        + b'\r\n--b1\r\nContent-Type: application/pdf; name="INV-2026-0001.pdf"\r\n'
        + b"Content-Transfer-Encoding: base64\r\n\r\n"
        + pdf
        + b"\r\n--b1--\r\n"
    )


# -- the directory -------------------------------------------------------------------


def build_directory(db: str, customers: int, work: Path) -> None:
    """Customers "<n>cust@example.com" for n = 0 .. customers, three contacts each, imported as CSV."""
    csv_path = work / f"directory-{customers}.csv"
    with csv_path.open("w", encoding="utf-8") as out:
        out.write("customer_email,customer_name,contact_name,contact_email,phone,role,categories\n")
        for n in range(customers + 1):
            for letter in "abc":
                out.write(
                    f"{n}cust@example.com,Customer {n},Contact {letter}{n},{letter}{n}@acme.example,,"
                    "Bookkeeping,billing\n"
                )
    subprocess.run(
        [sys.executable, "-m", "contacts_tui.cli", "--db", db, "import", str(csv_path)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    csv_path.unlink()


def cached_directory(cache: Path, customers: int, work: Path) -> str:
    """An SQLite directory of ``customers``, built once and copied from ``cache`` after that."""
    cache.mkdir(parents=True, exist_ok=True)
    kept = cache / f"directory-{customers}.db"
    if not kept.exists():
        print(f"(building a directory of {customers:,} customers in {kept}, once)", flush=True)
        partial = cache / f"directory-{customers}.db.part"
        partial.unlink(missing_ok=True)
        build_directory(str(partial), customers, work)
        partial.rename(kept)
    copy = work / kept.name
    shutil.copyfile(kept, copy)
    return str(copy)


# -- the relay under test ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_port(port: int, deadline: float = 60.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")


class Relay:
    """`contacts-relay serve` on a directory, for the length of a ``with``."""

    def __init__(self, db: str, work: Path, *, workers: int, sessions: int) -> None:
        self.port = free_port()
        self.spool = Path(tempfile.mkdtemp(prefix="spool-", dir=work))
        self.command = [
            sys.executable,
            "-m",
            "relay.cli",
            "--db",
            db,
            "serve",
            "--listen",
            f"127.0.0.1:{self.port}",
            "--upstream",
            f"127.0.0.1:{SINK_PORT}",
            "--upstream-tls",
            "none",
            "--spool",
            str(self.spool),
            "--upstream-connections",
            str(max(4, min(sessions, 16))),
            "--workers",
            str(workers),
            "--hostname",
            "relay.bench.example",
        ]

    def __enter__(self) -> Relay:
        self.process = subprocess.Popen(self.command, stderr=subprocess.DEVNULL)
        wait_port(self.port)
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)
        shutil.rmtree(self.spool, ignore_errors=True)

    def cpu_seconds(self) -> float:
        """CPU time (user and system) the relay's processes have used so far."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in [self.process.pid] + children(self.process.pid):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / tick

    def rss(self) -> int:
        """Resident memory of the relay's processes (the supervisor and its workers), in bytes."""
        pids = [self.process.pid] + children(self.process.pid)
        total = 0
        for pid in pids:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
            total += int(found.group(1)) * 1024 if found else 0
        return total

    def cpu(self) -> float:
        """CPU seconds the relay's processes (the supervisor and its workers) have used so far."""
        total = 0
        for pid in [self.process.pid, *children(self.process.pid)]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
            except OSError:
                continue
    return found


# -- measuring -------------------------------------------------------------------------


def rate(port: int, messages: int, sessions: int, message_file: Path) -> float:
    """End to end: messages per second from the first connection until the sink has them all."""
    log = tempfile.NamedTemporaryFile(prefix="sink-", delete=False)
    sink = subprocess.Popen(
        ["smtp-sink", "-u", "nobody", "-c", f"127.0.0.1:{SINK_PORT}", "1024"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_port(SINK_PORT)
        log.truncate(0)
        start = time.monotonic()
        subprocess.run(
            [
                "smtp-source",
                "-F",
                str(message_file),
                "-N",
                "-m",
                str(messages),
                "-s",
                str(sessions),
                "-d",
                "-f",
                "billing@shop.example",
                "-t",
                "cust@example.com",
                f"127.0.0.1:{port}",
            ],
            check=True,
        )
        deadline = time.monotonic() + 600
        got = 0
        while got < messages:
            counts = re.findall(rb"mesg=(\d+)", Path(log.name).read_bytes().replace(b"\r", b"\n"))
            got = int(counts[-1]) if counts else 0
            if time.monotonic() > deadline:
                raise SystemExit(f"timeout: the sink got {got} of {messages}")
            time.sleep(0.02)
        return messages / (time.monotonic() - start)
    finally:
        os.killpg(sink.pid, signal.SIGTERM)
        sink.wait()
        os.unlink(log.name)


def latencies(port: int, messages: int, sessions: int, data: bytes) -> list[float]:
    """Seconds from the end of each message's DATA to its 250, ``sessions`` clients at once."""
    sink = subprocess.Popen(
        ["smtp-sink", "-u", "nobody", "-c", f"127.0.0.1:{SINK_PORT}", "1024"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    times: list[float] = []
    lock = threading.Lock()

    def client(offset: int) -> None:
        mine = []
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as session:
            session.ehlo("latency.bench")
            for n in range(offset, messages, sessions):
                session.mail("billing@shop.example")
                session.rcpt(f"{n}cust@example.com")
                session.putcmd("data")
                session.getreply()
                session.send(data.replace(b"\r\n.", b"\r\n..") + b"\r\n.\r\n")
                sent = time.perf_counter()
                code, _ = session.getreply()
                mine.append(time.perf_counter() - sent)
                assert code == 250
        with lock:
            times.extend(mine)

    try:
        wait_port(SINK_PORT)
        threads = [threading.Thread(target=client, args=(n,)) for n in range(sessions)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        os.killpg(sink.pid, signal.SIGTERM)
        sink.wait()
    return times


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# -- the report --------------------------------------------------------------------------


def figure(values: list[float], unit: str = "msg/s", digits: int = 0) -> str:
    if not values:
        return "-"
    middle = statistics.median(values)
    spread = f" ({min(values):,.{digits}f}-{max(values):,.{digits}f})" if len(values) > 1 else ""
    return f"{middle:,.{digits}f} {unit}{spread}"


def ratio(relay: list[float], peer: list[float]) -> str:
    if not relay or not peer:
        return "-"
    return f"{statistics.median(relay) / statistics.median(peer):.2f}x"


def row(what: str, relay: list[float], peer: list[float]) -> None:
    print(f"| {what} | {figure(relay)} | {figure(peer)} | {ratio(relay, peer)} |", flush=True)


def main() -> int:
    global SINK_PORT
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer", type=int, help="the Postfix to compare with (postfix_peer.sh: 2700)")
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--memory-rounds", type=int, default=10, help="10,000 messages each (memory)")
    parser.add_argument(
        "--only",
        nargs="*",
        default=["sessions", "big", "directory", "postgres", "latency", "rules", "memory", "cpu"],
    )
    parser.add_argument("--pg", default=os.environ.get("CONTACTS_TEST_PG", ""), help="a PostgreSQL server URL")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "contact-persons-bench")
    parser.add_argument("--rules", type=int, default=100, help="enabled tagging rules for --only rules (default 100)")
    parser.add_argument(
        "--sink-port",
        type=int,
        help=f"where smtp-sink listens (with --peer {SINK_PORT}, where postfix_peer.sh's Postfix delivers; "
        "without, any free port, so two runs on one machine do not meet)",
    )
    args = parser.parse_args()
    SINK_PORT = args.sink_port or (SINK_PORT if args.peer else free_port())
    for tool in ("smtp-source", "smtp-sink"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing (Debian: apt-get install postfix)")
    work = Path(tempfile.mkdtemp(prefix="bench-relay-"))
    try:
        run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def run(args, work: Path) -> None:
    n = args.messages
    small, big = work / "3k.eml", work / "200k.eml"
    small.write_bytes(notification(3 * 1024))
    big.write_bytes(notification(200 * 1024))
    db = str(work / "directory.db")
    build_directory(db, max(n, 10_000), work)
    print(
        f"contacts-relay ({args.workers} workers) and Postfix, {n:,} notifications per run, three people added "
        f"to each, median of {args.rounds} runs (range)\n"
    )
    print("| figure | contacts-relay | Postfix | relay / Postfix |\n|---|---|---|---|", flush=True)

    def both(what: str, sessions: int, message: Path, count: int = n, directory: str = db) -> list[float]:
        mine, theirs = [], []
        for _ in range(args.rounds):
            with Relay(directory, work, workers=args.workers, sessions=sessions) as relay:
                mine.append(rate(relay.port, count, sessions, message))
            if args.peer:
                theirs.append(rate(args.peer, count, sessions, message))
        row(what, mine, theirs)
        return theirs

    peer_8: list[float] = []
    if "sessions" in args.only:
        for sessions in (1, 8, 64):
            found = both(f"end to end, {sessions} session{'s' if sessions > 1 else ''}, 3 KiB", sessions, small)
            peer_8 = found if sessions == 8 else peer_8
    if "big" in args.only:
        both("end to end, 8 sessions, 200 KiB (an invoice with its PDF)", 8, big, count=max(500, n // 5))
    if "directory" in args.only:
        for customers in (1_000, 1_000_000):
            directory = cached_directory(args.cache, customers, work)
            mine = []
            for _ in range(args.rounds):
                with Relay(directory, work, workers=args.workers, sessions=8) as relay:
                    mine.append(rate(relay.port, 1_000, 8, small))
            row(f"end to end, 8 sessions, 3 KiB, 1,000 messages, directory of {customers:,} customers", mine, peer_8)
            print(f"|   one lookup in that directory | {lookup_time(directory, customers)} | | |", flush=True)
    if "postgres" in args.only and args.pg:
        url = throwaway_database(args.pg)
        try:
            build_directory(url, n, work)
            mine = []
            for _ in range(args.rounds):
                with Relay(url, work, workers=args.workers, sessions=8) as relay:
                    mine.append(rate(relay.port, n, 8, small))
            row("end to end, 8 sessions, 3 KiB, directory on PostgreSQL", mine, peer_8)
        finally:
            throwaway_database(args.pg, drop=True)
    if "latency" in args.only:
        data = _notification(3 * 1024)  # CRLF line ends: the latency client sends it as it is
        with Relay(db, work, workers=args.workers, sessions=8) as relay:
            mine = latencies(relay.port, n, 8, data)
        theirs = latencies(args.peer, n, 8, data) if args.peer else []
        for share, label in ((0.5, "p50"), (0.99, "p99")):
            a = percentile(mine, share) * 1000
            b = percentile(theirs, share) * 1000 if theirs else None
            print(
                f"| latency of the 250, 8 sessions, {label} | {a:.1f} ms | {'-' if b is None else f'{b:.1f} ms'} | "
                f"{'-' if b is None else f'{a / b:.2f}x'} |",
                flush=True,
            )
    if "cpu" in args.only:
        # Wall-clock rates move with whatever else the machine runs; the CPU the
        # relay's own processes burn per message moves much less, so a change
        # is compared by this figure, from a checkout before it and one after.
        used = []
        for _ in range(args.rounds):
            with Relay(db, work, workers=args.workers, sessions=8) as relay:
                before = relay.cpu_seconds()
                rate(relay.port, n, 8, small)
                used.append((relay.cpu_seconds() - before) / n * 1e6)
        print(f"| CPU of the relay per message, 8 sessions, 3 KiB | {figure(used, 'us')} | | |", flush=True)
    if "rules" in args.only:
        compare_rules(args, work, db, small)
    if "memory" in args.only:
        with Relay(db, work, workers=args.workers, sessions=8) as relay:
            samples = []
            for _ in range(args.memory_rounds):
                rate(relay.port, 10_000, 8, small)
                samples.append(relay.rss())
        warm, last = samples[0], samples[-1]
        print(
            f"| memory of the relay after 10,000 / {len(samples) * 10_000:,} messages | {warm / MIB:.0f} / "
            f"{last / MIB:.0f} MiB ({(last - warm) / warm:+.0%}) | | |",
            flush=True,
        )
        # The whole series: growth that levels off (caches filling) reads
        # differently from growth that goes on (a leak).
        print(
            f"|   every 10,000 messages | {', '.join(f'{sample / MIB:.0f}' for sample in samples)} MiB | | |",
            flush=True,
        )


def compare_rules(args, work: Path, db: str, tagged: Path) -> None:
    """Throughput with ``args.rules`` enabled tagging rules against none, round by round in turn.

    This machine's other work moves messages per second by half from one
    minute to the next, so each round measures the three setups back to back
    (in a turning order) and the figures are the medians of each round's
    ratio; the relay's own CPU time per message is printed beside, and the
    tagging step alone, timed in this process.
    """
    untagged = work / "3k-untagged.eml"
    untagged.write_bytes(notification(3 * 1024, header=False))
    with_rules = work / "directory-rules.db"
    shutil.copyfile(db, with_rules)
    add_rules(str(with_rules), args.rules)
    setups = {"none": (db, tagged), "rules": (str(with_rules), untagged), "header": (str(with_rules), tagged)}
    rates: dict[str, list[float]] = {name: [] for name in setups}
    cpu: dict[str, list[float]] = {name: [] for name in setups}
    for round_number in range(args.rounds):
        names = list(setups)
        for name in names[round_number % 3 :] + names[: round_number % 3]:
            directory, message = setups[name]
            with Relay(directory, work, workers=args.workers, sessions=8) as relay:
                rate(relay.port, 500, 8, message)  # warm up: connections, caches, the rules read once
                before = relay.cpu()
                rates[name].append(rate(relay.port, args.messages, 8, message))
                cpu[name].append((relay.cpu() - before) / args.messages * 1000)
        if round_number == 0:
            print(f"(checked: the relay log says {newest_reason(str(with_rules))!r})", flush=True)
    print(
        f"| end to end, 8 sessions, 3 KiB, no tagging rules (the header) | {figure(rates['none'])}; "
        f"relay CPU {figure(cpu['none'], 'ms/msg', 2)} | | |",
        flush=True,
    )
    for name, what in (
        ("rules", f"{args.rules} enabled tagging rules, no header, the last rule tags it"),
        ("header", f"{args.rules} rules in place, the header (rules not asked)"),
    ):
        lost = [1 - mine / base for mine, base in zip(rates[name], rates["none"], strict=True)]
        more = [mine / base - 1 for mine, base in zip(cpu[name], cpu["none"], strict=True)]
        print(
            f"| the same, {what} | {figure(rates[name])}; relay CPU {figure(cpu[name], 'ms/msg', 2)} | | "
            f"msg/s lost {share(lost)}, CPU per message {share(more)} (median of the rounds' ratios, range) |",
            flush=True,
        )
    print(f"| the tagging step alone, {args.rules} rules, in one process | {tagging_step(str(with_rules))} | | |")


def share(values: list[float]) -> str:
    return f"{statistics.median(values):+.1%} ({min(values):+.1%} to {max(values):+.1%})"


def tagging_step(db: str) -> str:
    """What a worker does for a message without the header, beyond what it does for one with it."""
    from contacts_tui.core.options import Options, open_directory
    from contacts_tui.core.tagging.kept import keep
    from contacts_tui.core.tagging.store import LiveRules
    from relay.rewrite import HeaderBlock

    directory = open_directory(Options.from_env(db, None), must_exist=True)
    live = LiveRules(directory.database)
    headers = HeaderBlock.of(_notification(3 * 1024, header=False))
    rules = live.current()
    steps = {
        "version read": live.current,
        "match": lambda: rules.tag(headers, "billing@shop.example", ["1cust@example.com"]),
        "headers kept": lambda: keep((field.name, field.raw) for field in headers.fields),
    }
    times = {}
    for name, step in steps.items():
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(2000):
                step()
            runs.append((time.perf_counter() - started) / 2000 * 1e6)
        times[name] = min(runs)  # the least disturbed of five runs
    directory.database.close()
    total = sum(times.values())
    return f"{total:.0f} µs a message: " + ", ".join(f"{name} {value:.0f} µs" for name, value in times.items())


def newest_reason(db: str) -> str:
    """The reason the relay log gives for the newest message a tagging rule tagged."""
    import sqlite3

    with sqlite3.connect(db) as connection:
        row = connection.execute(
            "SELECT reason FROM relay_log WHERE tagged_by != '' ORDER BY id DESC LIMIT 1"
        ).fetchone()
    return row[0] if row else "(none)"


def add_rules(db: str, count: int) -> None:
    """``count`` enabled rules; only the last matches the bench's notification."""
    from contacts_tui.core.directory.history import Actor
    from contacts_tui.core.options import Options, open_directory
    from contacts_tui.core.tagging import store
    from contacts_tui.core.tagging.rule import RuleInput

    directory = open_directory(Options.from_env(db, None), must_exist=True)
    actor = Actor("bench", "cli")
    for row in store.current_rules():  # the catalog's examples, disabled: out of the way
        store.remove_rule(row.id, actor)
    for number in range(1, count):
        rule = RuleInput(
            category="billing", sender=f"*@shop{number}.example", subject=f"Statement S-{number:04}", enabled=True
        )
        store.add_rule(rule, directory.catalog, actor)
    last = RuleInput(category="billing", sender="*@shop.example", subject="invoice", enabled=True)
    store.add_rule(last, directory.catalog, actor)
    directory.database.close()


def lookup_time(db: str, customers: int) -> str:
    """The median time of one directory lookup for a customer with three contacts."""
    from contacts_tui.core.options import Options, open_directory

    directory = open_directory(Options.from_env(db, None), must_exist=True)
    rng = random.Random(3)
    times = []
    for _ in range(2000):
        started = time.perf_counter()
        directory.resolve([f"{rng.randint(0, customers)}cust@example.com"], "invoice.created")
        times.append(time.perf_counter() - started)
    directory.database.close()
    return f"{statistics.median(times) * 1e6:.0f} µs"


def throwaway_database(server_url: str, *, drop: bool = False) -> str:
    from urllib.parse import urlsplit

    import psycopg2

    name = f"bench_relay_{os.getpid()}"
    admin = psycopg2.connect(server_url)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if not drop:
            cursor.execute(f"CREATE DATABASE {name}")
            admin_db = urlsplit(server_url)._replace(path="/" + name).geturl()
            extension = psycopg2.connect(admin_db)
            extension.autocommit = True
            with extension.cursor() as inner:
                inner.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            extension.close()
    admin.close()
    return urlsplit(server_url)._replace(path="/" + name).geturl()


if __name__ == "__main__":
    sys.exit(main())
