"""`contacts-relay check`: each upstream probed as delivery opens a session, and the reason when it cannot."""

from __future__ import annotations

import os
import subprocess
import sys

from ..helpers import ROOT


def check(db_url: str, tmp_path, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "relay.cli",
            "--db",
            db_url,
            "check",
            "--spool",
            str(tmp_path / "spool"),
            "--listen",
            "127.0.0.1:0",
            "--hostname",
            "relay.example.com",
            *argv,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def lines(done: subprocess.CompletedProcess) -> dict[str, str]:
    found = {}
    for line in done.stdout.splitlines():
        what, _, text = line.partition("  ")
        found[what.strip()] = text.strip()
    return found


def test_every_upstream_is_probed_and_a_stopped_one_fails_check(sqlite_directory, sqlite_url, tmp_path, make_upstream):
    first, second = make_upstream(), make_upstream()
    second.stop()
    done = check(
        sqlite_url, tmp_path, "--upstream", f"127.0.0.1:{first.port}", "--upstream", f"127.0.0.1:{second.port}"
    )
    found = lines(done)
    assert done.returncode == 1, done.stdout + done.stderr
    assert found[f"upstream 127.0.0.1:{first.port}"] == "ok"
    assert found[f"upstream 127.0.0.1:{second.port}"] == (
        f"4.4.1 connect to 127.0.0.1:{second.port} failed: Connection refused"
    )
    # A comma list in RELAY_UPSTREAM is the same list.
    second.start()
    done = check(sqlite_url, tmp_path, env={"RELAY_UPSTREAM": f"127.0.0.1:{first.port}, 127.0.0.1:{second.port}"})
    assert done.returncode == 0, done.stdout
    assert [what for what in lines(done) if what.startswith("upstream")] == [
        f"upstream 127.0.0.1:{first.port}",
        f"upstream 127.0.0.1:{second.port}",
    ]
    assert first.messages == [] and second.messages == []


def test_starttls_required_from_an_upstream_without_it_fails_with_the_reason(
    sqlite_directory, sqlite_url, tmp_path, upstream
):
    # The env file's RELAY_UPSTREAM_TLS=starttls against a server that offers no STARTTLS:
    # delivery defers every message, so check must not say ok.
    done = check(
        sqlite_url,
        tmp_path,
        env={"RELAY_UPSTREAM": f"127.0.0.1:{upstream.port}", "RELAY_UPSTREAM_TLS": "starttls"},
    )
    assert done.returncode == 1
    assert lines(done)[f"upstream 127.0.0.1:{upstream.port}"] == (
        f"4.7.0 127.0.0.1:{upstream.port} does not offer STARTTLS, which is required"
    )


def test_the_certificate_and_auth_are_checked_as_delivery_checks_them(
    sqlite_directory, sqlite_url, tmp_path, make_upstream, tls_files
):
    server = make_upstream(tls=tls_files, users={"billing": "s3cret"})
    name = f"upstream 127.0.0.1:{server.port}"
    common = ["--upstream", f"127.0.0.1:{server.port}", "--upstream-tls", "starttls", "--upstream-user", "billing"]
    # The certificate is self-signed: not trusted by the system's CAs.
    untrusted = check(sqlite_url, tmp_path, *common, env={"RELAY_UPSTREAM_PASSWORD": "s3cret"})
    assert untrusted.returncode == 1
    assert lines(untrusted)[name].startswith(f"4.7.5 STARTTLS with 127.0.0.1:{server.port} failed:")
    assert "CERTIFICATE_VERIFY_FAILED" in lines(untrusted)[name]
    trusted = [*common, "--upstream-ca-file", str(tls_files.cert)]
    wrong = check(sqlite_url, tmp_path, *trusted, env={"RELAY_UPSTREAM_PASSWORD": "wrong"})
    assert wrong.returncode == 1
    assert lines(wrong)[name].startswith(f"4.4.0 AUTH with 127.0.0.1:{server.port} failed: 535")
    assert "wrong" not in wrong.stdout + wrong.stderr
    right = check(sqlite_url, tmp_path, *trusted, env={"RELAY_UPSTREAM_PASSWORD": "s3cret"})
    assert right.returncode == 0, right.stdout
    assert lines(right)[name] == "ok"
    assert server.messages == []  # EHLO, STARTTLS, AUTH, QUIT: no mail
