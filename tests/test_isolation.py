"""Each test runs in an environment of its own (tests/conftest.py's isolated_environment)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_environment_a_test_sees(tmp_path):
    assert not [name for name in os.environ if name.startswith(("CONTACTS_", "RELAY_")) and name != "CONTACTS_TEST_PG"]
    assert os.environ["HOME"] == str(tmp_path / "home") and Path(os.environ["HOME"]).is_dir()
    assert os.environ["XDG_DATA_HOME"] == str(tmp_path / "data")


def test_a_developers_settings_do_not_reach_the_tests(tmp_path):
    mine = {"CONTACTS_DB": str(tmp_path / "mine.db"), "RELAY_SPOOL": str(tmp_path / "spool"), "HOME": str(tmp_path)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"{__file__}::test_the_environment_a_test_sees",
        ],
        cwd=ROOT,
        env={**os.environ, **mine},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
