"""`serve --log-format json`: every line the relay writes to stderr is one JSON object.

A whole life with two workers: start, mail, faults (the upstream gone, the
directory gone, a worker killed), mail again, stop; then every line parses.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from ..waiting import poll
from .helpers import ROOT, message
from .helpers.reliability import Outcome, free_port, relay_process, seeded_database, serving
from .test_operations import send_all
from .test_supervisor import workers_of


def parse_all(output: str) -> list[dict]:
    lines = output.splitlines()
    assert lines, "the relay wrote nothing"
    parsed = []
    for number, line in enumerate(lines, 1):
        try:
            parsed.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"line {number} is not JSON: {line!r}\n{output}") from None
    return parsed


# A bug nobody has found yet, for one message: delivery raises. Loaded into the
# relay process at start (site imports sitecustomize from PYTHONPATH).
BUG = """
import relay.delivery.pool as pool

real_send = pool.send
fired = []


async def send(client, message, *args, **kwargs):
    if b"Subject: bug" in message and not fired:
        fired.append(True)
        raise RuntimeError("a bug in delivery")
    return await real_send(client, message, *args, **kwargs)


pool.send = send
"""


def test_every_line_of_a_run_with_faults_is_one_json_object(tmp_path, upstream):
    db = seeded_database(tmp_path)
    port, metrics_port = free_port(), free_port()
    bug = tmp_path / "bug"
    bug.mkdir()
    (bug / "sitecustomize.py").write_text(BUG)
    process = relay_process(
        db, tmp_path, upstream, port, "--workers", "2", "--log-format", "json", "--metrics", f"127.0.0.1:{metrics_port}"
    )
    process.env["PYTHONPATH"] = f"{bug}{os.pathsep}{ROOT}"
    with serving(process, Outcome("json logs")) as relay:
        poll(lambda: "metrics on" in relay.output, 10)
        assert send_all(port, [message(subject="first")]) == [250]
        poll(lambda: len(upstream.messages) == 1, 10)

        upstream.stop()  # deferrals, and the upstream marked down
        assert send_all(port, [message(subject="while down")]) == [250]
        poll(lambda: "cannot be reached" in relay.output, 10, lambda: relay.output)
        upstream.start()
        poll(lambda: len(upstream.messages) == 2, 20)

        away = tmp_path / "away.db"
        db.rename(away)  # the directory gone: 451 and an error with its reason
        assert send_all(port, [message(subject="no directory")]) == [451]
        away.rename(db)
        assert send_all(port, [message(subject="bug")]) == [250]  # delivered on the retry
        poll(lambda: len(upstream.messages) == 3, 20)

        workers = poll(lambda: len(workers_of(relay.process.pid)) == 2 and workers_of(relay.process.pid), 10)
        os.kill(workers[0], signal.SIGKILL)  # a worker dies: the supervisor starts it again
        poll(lambda: "starting it again" in relay.output, 10)
        poll(lambda: len(workers_of(relay.process.pid)) == 2, 20)
        assert send_all(port, [message(subject="after")]) == [250]
        poll(lambda: len(upstream.messages) == 4, 20)
        relay.send_signal(signal.SIGTERM)
        assert relay.wait(60) == 0
    lines = parse_all(relay.output)
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    events = [line["event"] for line in lines if "event" in line]
    assert events[:2] == ["listening", "metrics"] and events[-2:] == ["stopping", "stopped"], events
    started = lines[0]
    assert started["listen"] == f"127.0.0.1:{port}" and started["workers"] == 2
    assert started["upstreams"] == [f"127.0.0.1:{upstream.port}"]
    assert lines[-1]["queued"] == 0
    assert any("cannot be reached" in line["message"] for line in lines)
    assert any(line.get("status") == "deferred" for line in lines)
    assert any(line["level"] == "error" and "exited with signal 9" in line["message"] for line in lines)
    directory = [line for line in lines if "contact directory is unavailable" in line["message"]]
    assert directory and all("worker" in line for line in directory), directory
    [traceback] = [line for line in lines if "exception" in line]
    assert traceback["message"].startswith("delivery of ") and traceback["worker"] in (1, 2)
    assert traceback["exception"].startswith("Traceback (most recent call last):")
    assert traceback["exception"].endswith("RuntimeError: a bug in delivery")


def test_a_start_that_fails_says_so_in_json_too(tmp_path, upstream):
    bad = subprocess.run(
        [sys.executable, "-m", "relay.cli", "serve", "--log-format", "json", "--listen", "nowhere", "--capture"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    [line] = parse_all(bad.stderr)
    assert line["event"] == "error" and line["level"] == "error" and "--listen 'nowhere'" in line["message"]
