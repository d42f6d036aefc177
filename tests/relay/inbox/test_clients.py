"""The Mailpit clients test suites use, unchanged, against a capture relay:
the ``mailpit-api`` npm package under node (list, search, wait for a message,
the bookkeeper in Cc, the PDF, headers, source, read status, deletes, chaos,
the next message over /api/events) and the ``mailpit-api-client`` Python package.

They are installed from their registries into a cache folder
(``CONTACTS_CLIENTS_CACHE``, by default ~/.cache/contact-persons/test-clients)
the first time; without a registry the tests say so and skip.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..helpers import ACME, BETA, send
from .conftest import PDF, invoice

pytestmark = pytest.mark.slow
HERE = Path(__file__).resolve().parent / "clients"
CACHE = Path(os.environ.get("CONTACTS_CLIENTS_CACHE") or Path.home() / ".cache" / "contact-persons" / "test-clients")


def _install(command: list[str], what: str) -> None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        pytest.skip(f"installing {what} took over 10 minutes (no registry?)")
    if result.returncode != 0:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        pytest.skip(f"cannot install {what} (offline, or no registry): {last[0]}")


@pytest.fixture(scope="session")
def npm_client() -> Path:
    """A folder with node_modules/mailpit-api, and the script beside it (ESM finds packages from the script)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not (node and npm):
        pytest.skip("node and npm are not installed (apt-get install nodejs npm)")
    folder = CACHE / "npm"
    if not (folder / "node_modules" / "mailpit-api" / "package.json").exists():
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "package.json").write_text('{"private": true}\n')
        _install([npm, "install", "--prefix", str(folder), "--no-audit", "--no-fund", "mailpit-api@2"], "mailpit-api")
    shutil.copy(HERE / "mailpit_api.mjs", folder / "mailpit_api.mjs")
    return folder


@pytest.fixture(scope="session")
def python_client() -> Path:
    folder = CACHE / "python"
    if not (folder / "mailpit" / "client" / "api.py").exists():
        _install(
            [sys.executable, "-m", "pip", "install", "-q", "--target", str(folder), "mailpit-api-client==1.0.0"],
            "mailpit-api-client",
        )
    return folder


def _node_flags() -> list[str]:
    # Node 20 has WebSocket behind a flag; later versions have it by default.
    probe = subprocess.run(["node", "-e", "process.exit(typeof WebSocket === 'function' ? 0 : 1)"], check=False)
    return [] if probe.returncode == 0 else ["--experimental-websocket"]


async def test_the_mailpit_api_npm_client_runs_a_test_suites_steps(inbox_relay, npm_client):
    for recipient, data in ((ACME, invoice()), (BETA, invoice("Reminder R-7", to=BETA, category="payment.reminder"))):
        assert (await send(inbox_relay.port, [recipient], data)).code == 250
    base = f"http://127.0.0.1:{inbox_relay.inbox.port}"
    script = await asyncio.create_subprocess_exec(
        "node",
        *_node_flags(),
        str(npm_client / "mailpit_api.mjs"),
        base,
        cwd=npm_client,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        line = await asyncio.wait_for(script.stdout.readline(), 60)
        if line.strip() != b"waiting":
            raise AssertionError(f"{line!r} {(await script.stderr.read()).decode()}")
        assert (await send(inbox_relay.port, [BETA], invoice("Reminder R-8", to=BETA))).code == 250
        out, err = await asyncio.wait_for(script.communicate(), 60)
    finally:
        if script.returncode is None:
            script.kill()
            await script.wait()
    assert script.returncode == 0, err.decode()
    assert json.loads(out) == {"ok": True, "pdf": len(PDF), "arrived": "Reminder R-8", "left": 0}


async def test_the_mailpit_api_client_python_package_lists_gets_and_deletes(inbox_relay, python_client):
    for recipient, data in ((ACME, invoice()), (BETA, invoice("Reminder R-7", to=BETA, category="payment.reminder"))):
        assert (await send(inbox_relay.port, [recipient], data)).code == 250
    script = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / "mailpit_api_client.py"),
        f"http://127.0.0.1:{inbox_relay.inbox.port}",
        env={**os.environ, "PYTHONPATH": str(python_client)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(script.communicate(), 120)
    assert script.returncode == 0, err.decode()
    found = json.loads(out)
    # The client reads an attachment as text; its length is the PDF's bytes decoded.
    assert found["ok"] and found["left"] == ["Invoice INV-42"] and found["pdf"] > 0
