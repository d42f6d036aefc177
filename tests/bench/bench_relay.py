"""Relay throughput: messages per second, accepted and delivered end to end.

    python tests/bench/bench_relay.py [--messages 2000] [--sessions 8] [--capture]

Builds a directory where customer "<n>cust@example.com" has three contact
persons opted in to billing, starts `contacts-relay serve` against Postfix's
smtp-sink on 127.0.0.1:2600, sends billing notifications with smtp-source
(one distinct customer per message, as a billing run does), and prints the
rate at which the relay accepted them (250 after fsync) and the rate at which
the upstream had them all, each with three contacts added. With --peer PORT it
measures another relay the same way (e.g. a Postfix with recipient_bcc_maps).
Needs Postfix's smtp-source and smtp-sink (Debian: postfix).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MESSAGE = HERE / "notification.eml"
SINK_PORT = 2600


def wait_port(port: int, deadline: float = 15.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_directory(db: Path, customers: int) -> None:
    csv_path = db.with_suffix(".csv")
    with csv_path.open("w", encoding="utf-8") as out:
        out.write("customer_email,customer_name,contact_name,contact_email,phone,role,categories\n")
        for n in range(customers + 1):
            for letter in "abc":
                out.write(f"{n}cust@example.com,Customer {n},Contact {letter}{n},{letter}{n}@acme.example,,Bookkeeping,billing\n")
    subprocess.run(
        [sys.executable, "-m", "contacts_tui.cli", "--db", str(db), "import", str(csv_path)],
        check=True, stdout=subprocess.DEVNULL,
    )


def measure(port: int, messages: int, sessions: int) -> tuple[float, float, int]:
    """(accepted/s, delivered/s, recipients the sink saw) for one run against ``port``."""
    sink_log = tempfile.NamedTemporaryFile(prefix="sink-", delete=False)
    sink = subprocess.Popen(
        ["smtp-sink", "-u", "nobody", "-c", f"127.0.0.1:{SINK_PORT}", "512"],
        stdout=sink_log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        wait_port(SINK_PORT)
        sink_log.truncate(0)
        start = time.monotonic()
        subprocess.run(
            ["smtp-source", "-F", str(MESSAGE), "-N", "-m", str(messages), "-s", str(sessions), "-d",
             "-f", "billing@shop.example", "-t", "cust@example.com", f"127.0.0.1:{port}"],
            check=True,
        )
        accepted = time.monotonic()
        deadline = accepted + 300
        got = 0
        while got < messages:
            text = Path(sink_log.name).read_bytes().replace(b"\r", b"\n")
            counts = re.findall(rb"mesg=(\d+)", text)
            got = int(counts[-1]) if counts else 0
            if time.monotonic() > deadline:
                raise SystemExit(f"timeout: the upstream got {got} of {messages}")
            time.sleep(0.05)
        end = time.monotonic()
        recipients = re.findall(rb"rcpt=(\d+)", Path(sink_log.name).read_bytes().replace(b"\r", b"\n"))
        return messages / (accepted - start), messages / (end - start), int(recipients[-1]) if recipients else 0
    finally:
        os.killpg(sink.pid, signal.SIGTERM)
        sink.wait()
        os.unlink(sink_log.name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--peer", type=int, help="also measure the relay listening on this port")
    args = parser.parse_args()
    for tool in ("smtp-source", "smtp-sink"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing (Debian: apt-get install postfix)")
    work = Path(tempfile.mkdtemp(prefix="bench-relay-"))
    db = work / "contacts.db"
    build_directory(db, args.messages)
    port = free_port()
    relay = subprocess.Popen(
        [sys.executable, "-m", "relay.cli", "--db", str(db), "serve", "--listen", f"127.0.0.1:{port}",
         "--upstream", f"127.0.0.1:{SINK_PORT}", "--upstream-tls", "none", "--spool", str(work / "spool"),
         "--upstream-connections", str(args.sessions)],
    )
    try:
        wait_port(port)
        print(f"{args.messages} billing notifications, {args.sessions} sessions, 3 contacts added to each")
        for label, target in [("contacts-relay", port)] + ([("peer", args.peer)] if args.peer else []):
            for round_number in range(1, args.rounds + 1):
                accept, delivered, _ = measure(target, args.messages, args.sessions)
                print(f"{label:15} round {round_number}: accept {accept:6.0f} msg/s   end-to-end {delivered:6.0f} msg/s")
    finally:
        relay.send_signal(signal.SIGTERM)
        relay.wait(30)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
