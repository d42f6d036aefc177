"""Running the relay as operators run a mail server: Prometheus metrics, /healthz, JSON logs.

The relay runs as `contacts-relay serve` with two workers; the endpoint is
scraped with a real HTTP client during real SMTP traffic and read with
prometheus_client's own parser.
"""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from ..waiting import poll
from .helpers import ACME, ROOT, SENDER, RawSession, message
from .helpers.reliability import Outcome, free_port, relay_process, seeded_database, serving


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def health(port: int) -> tuple[int, str]:
    try:
        answer = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10)
        return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def send_all(port: int, messages: list[bytes]) -> list[int]:
    session = RawSession(port)
    try:
        return [session.send_message(SENDER.encode(), [ACME.encode()], data)[-1][0] for data in messages]
    finally:
        session.close()


def test_the_counters_match_what_was_sent(tmp_path, upstream):
    db = seeded_database(tmp_path)
    port, metrics_port = free_port(), free_port()
    outcome = Outcome("metrics")
    hops = [("Received", f"from hop{i}.example by x.example; Mon, 23 Nov 2026 08:00:00 +0000") for i in range(60)]
    process = relay_process(db, tmp_path, upstream, port, "--workers", "2", "--metrics", f"127.0.0.1:{metrics_port}")
    with serving(process, outcome) as relay:
        poll(lambda: f"metrics on http://127.0.0.1:{metrics_port}/metrics" in relay.output, 10)
        tagged = [message(subject=f"m{n}") for n in range(12)]
        codes = send_all(port, tagged + [message(category=None), message(hops, subject="loop")])
        assert codes == [250] * 13 + [554]
        # Two connections at once: both workers may have taken one.
        assert send_all(port, [message(subject="second")]) == [250]
        samples = poll(
            lambda: (
                (s := scrape(metrics_port))
                and value(s, "contacts_relay_delivery_attempts_total", result="delivered") == 14
                and s
            ),
            20,
        )
    assert value(samples, "contacts_relay_messages_received_total") == 15
    assert value(samples, "contacts_relay_messages_rewritten_total", added_to="cc") == 13
    assert value(samples, "contacts_relay_messages_unchanged_total", reason="no_category") == 1
    assert value(samples, "contacts_relay_messages_refused_total", reason="loop") == 1
    assert value(samples, "contacts_relay_contacts_added_total") == 13 * 3
    at = f"127.0.0.1:{upstream.port}"
    assert value(samples, "contacts_relay_delivery_replies_total", reply_class="2xx", upstream=at) == 13 * 4 + 1
    assert value(samples, "contacts_relay_upstream_up", upstream=at) == 1
    # Every worker says how much waits in its spool; nothing does once all is delivered.
    for worker in ("1", "2"):
        assert ("contacts_relay_queue_messages", (("state", "new"), ("worker", worker))) in samples
    assert value(samples, "contacts_relay_queue_oldest_seconds") == 0
    assert value(samples, "contacts_relay_accept_seconds_count") == 15
    assert value(samples, "contacts_relay_spool_commit_seconds_count") == 14
    assert value(samples, "contacts_relay_directory_lookup_seconds_count") == 13
    assert ("contacts_relay_sessions", ()) in samples


def test_healthz_follows_the_directory_and_the_spool(tmp_path, upstream):
    db = seeded_database(tmp_path)
    port, metrics_port = free_port(), free_port()
    outcome = Outcome("health")

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024 * 1024, resource.RLIM_INFINITY))

    process = relay_process(db, tmp_path, upstream, port, "--workers", "1", "--metrics", f"127.0.0.1:{metrics_port}")
    process.preexec = small_files
    with serving(process, outcome) as relay:
        assert health(metrics_port) == (200, "ok\n")

        db.rename(tmp_path / "away.db")
        code, text = health(metrics_port)
        assert code == 503 and text.startswith("directory: there is no database at"), (text, relay.output)
        (tmp_path / "away.db").rename(db)
        assert health(metrics_port) == (200, "ok\n")

        # The spool's disk is full (a file size limit makes writes fail as it does), then has room again.
        resource.prlimit(relay.process.pid, resource.RLIMIT_FSIZE, (32 * 1024, resource.RLIM_INFINITY))
        code, text = health(metrics_port)
        assert code == 503 and "cannot be written: File too large" in text
        resource.prlimit(relay.process.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        assert health(metrics_port) == (200, "ok\n")


def test_json_logs_carry_each_messages_fields(tmp_path, upstream):
    db = seeded_database(tmp_path)
    port = free_port()
    outcome = Outcome("json")
    process = relay_process(db, tmp_path, upstream, port, "--workers", "1", "--log-format", "json", "--verbose")
    with serving(process, outcome) as relay:
        assert send_all(port, [message(subject="json")]) == [250]
        poll(lambda: '"status": "delivered"' in relay.output, 10, lambda: relay.output)
    lines = [json.loads(line) for line in relay.output.splitlines() if line.startswith("{")]
    queued = next(line for line in lines if line.get("status") == "queued")
    assert queued["sender"] == SENDER and queued["recipients"] == [ACME] and queued["category"] == "billing"
    assert sorted(queued["added"]) == ["books@acme.example", "boss@acme.example", "gone@acme.example"]
    delivered = next(line for line in lines if line.get("status") == "delivered")
    assert delivered["queue_id"] == queued["queue_id"] and delivered["reply"].startswith("250")
    assert {"time", "level", "logger", "message"} <= set(delivered)


def test_healthz_and_check_say_degraded_while_mail_is_stuck(tmp_path, upstream):
    """The upstream refuses every session: mail waits, the relay still takes it (200), and says so."""
    db = seeded_database(tmp_path)
    port, metrics_port = free_port(), free_port()
    upstream.stop()
    outcome = Outcome("degraded")
    process = relay_process(
        db,
        tmp_path,
        upstream,
        port,
        "--workers",
        "2",
        "--metrics",
        f"127.0.0.1:{metrics_port}",
        "--queue-age-alert",
        "1",
        "--failure-alert",
        "3",
    )
    with serving(process, outcome) as relay:
        poll(lambda: "metrics on" in relay.output, 10)
        assert health(metrics_port) == (200, "ok\n")
        assert send_all(port, [message(subject=f"stuck {n}") for n in range(4)]) == [250] * 4
        code, text = poll(lambda: (answer := health(metrics_port)) and answer[1].count("degraded:") == 2 and answer, 20)
        assert code == 200
        age, failing = text.splitlines()
        assert age.startswith("degraded: message ") and "longer than --queue-age-alert 1 s" in age
        assert f"its last error: 4.4.1 connect to 127.0.0.1:{upstream.port} failed: Connection refused" in age
        assert failing.startswith("degraded: the last 3 delivery attempts all failed")
        samples = scrape(metrics_port)
        assert value(samples, "contacts_relay_queue_oldest_seconds") >= 1
        assert sum(v for (name, _), v in samples.items() if name == "contacts_relay_queue_messages") == 4
        assert value(samples, "contacts_relay_upstream_up", upstream=f"127.0.0.1:{upstream.port}") == 0

        checked = subprocess.run(
            [
                sys.executable,
                "-m",
                "relay.cli",
                "--db",
                str(db),
                "check",
                "--upstream",
                f"127.0.0.1:{upstream.port}",
                "--upstream-tls",
                "none",
                "--spool",
                str(tmp_path / "spool"),
                "--listen",
                f"127.0.0.1:{port}",
                "--metrics",
                f"127.0.0.1:{metrics_port}",
                "--queue-age-alert",
                "1",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert checked.returncode == 1
        running = next(line for line in checked.stdout.splitlines() if line.startswith("running relay"))
        assert "degraded: message " in running and "degraded: the last 3 delivery attempts" in running
        queue = next(line for line in checked.stdout.splitlines() if line.startswith("queue"))
        assert "degraded: message " in queue and "Connection refused" in queue  # read from the spool on disk

        upstream.start()
        poll(lambda: len(upstream.messages) == 4, 30)
        poll(lambda: health(metrics_port) == (200, "ok\n"), 20, lambda: health(metrics_port))
