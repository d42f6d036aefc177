"""Mail cannot write to the admin's terminal: every command shows control
characters from a message (an RFC 2047 subject decodes to anything) as visible
stand-ins, and never sends them to the terminal as they are."""

from __future__ import annotations

import base64
import json
import os
import pty
import subprocess
import sys

import pytest

from ..helpers import ACME, ROOT, log_json, message, relay_config, run_cli, running, seed, send

# A hidden link (OSC 8), clear the screen (CSI 2 J), write the clipboard (OSC 52), a C1 CSI.
HOSTILE = "Invoice \x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\ \x1b[2J\x1b]52;c;ZXZpbA==\x07 \x9b31m"


def encoded(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


@pytest.fixture
async def hostile(sqlite_directory, tmp_path):
    seed(sqlite_directory)
    async with running(relay_config(tmp_path), sqlite_directory) as relay:
        reply = await send(relay.port, [ACME], message(subject=encoded(HOSTILE), body=b"Body \x1b[2J cleared\r\n"))
    assert reply.code == 250


@pytest.mark.parametrize("command", [["messages", "list"], ["messages", "show", "1"], ["log", "--search", "Invoice"]])
async def test_text_commands_show_control_characters_without_obeying_them(hostile, capsys, sqlite_url, command):
    code, out, _ = run_cli(capsys, *command, "--db", sqlite_url)
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    if command[0] == "messages":
        assert "Invoice \u241b]8;;http://evil.example" in out  # ESC shown as its picture


async def test_json_escapes_them_and_reads_back_unchanged(hostile, capsys, sqlite_url):
    code, out, _ = run_cli(capsys, "messages", "list", "--json", "--db", sqlite_url)
    assert "\x1b" not in out and "\x9b" not in out and "\\u009b" in out
    assert json.loads(out.splitlines()[0])["subject"] == HOSTILE
    assert [row["subject"] for row in log_json(capsys, sqlite_url)] == [HOSTILE]


async def test_raw_is_shown_on_a_terminal_and_passed_as_is_into_a_pipe(hostile, sqlite_url):
    script = [sys.executable, "-m", "relay.cli", "messages", "raw", "1", "--original", "--db", sqlite_url]
    piped = subprocess.run(script, cwd=ROOT, capture_output=True, timeout=60, check=True).stdout
    assert b"Body \x1b[2J cleared" in piped  # the bytes as received

    control, terminal = pty.openpty()
    try:
        process = subprocess.Popen(script, cwd=ROOT, stdout=terminal, stderr=subprocess.DEVNULL)
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(control, 65536)
            except OSError:  # the other end is closed
                break
            if not chunk:
                break
            shown += chunk
        assert process.wait(30) == 0
    finally:
        os.close(control)
    assert "Body \u241b[2J cleared".encode() in shown and b"\x1b" not in shown
