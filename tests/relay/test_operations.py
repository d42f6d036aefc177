"""Running the relay as operators run a mail server: Prometheus metrics, /healthz, JSON logs.

The relay runs as `contacts-relay serve` with two workers; the endpoint is
scraped with a real HTTP client during real SMTP traffic and read with
prometheus_client's own parser.
"""

from __future__ import annotations

import json
import resource
import signal
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from ..waiting import poll
from .helpers import ACME, SENDER, RawSession, message
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
    assert value(samples, "contacts_relay_delivery_replies_total", reply_class="2xx") == 13 * 4 + 1
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
