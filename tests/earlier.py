"""The project as an earlier commit had it, for upgrade tests.

A spool or a database that an older version wrote must open in this one, so
upgrade tests let the older code itself write it: ``earlier_tree`` extracts
the packages of a commit from git into a folder, and ``run_earlier`` runs a
script with that folder first on the path. Without the git history (a source
tarball, or a commit a shallow clone lacks) they are skipped on a
developer's machine; in CI (``CI`` set) a shallow clone fetches the rest of
its history first, and what is still missing fails the test, so CI never
passes without having run them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from io import BytesIO
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The last commit before the relay was laid out by job (state.log, JSON records).
BEFORE_RELAY_LAYOUT = "dd0de90"
# The last commit before the catalog and the contact limit were stored in the
# database (schema version 5; each program took them from its options).
BEFORE_STORED_SETTINGS = "9fc001b"
# The last commit before the history of changes and the portal's sign-in
# (schema version 7; changes were not recorded).
BEFORE_HISTORY = "8293bbd"


def earlier_tree(commit: str, folder: Path) -> Path:
    """``contacts_tui/`` and ``relay/`` as ``commit`` had them, under ``folder``."""
    target = folder / f"code-{commit}"
    if target.exists():
        return target
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        without_history("needs the project's git history (a clone, not a source tarball, and git)")
    done = _archive(git, commit)
    if done.returncode != 0 and in_ci() and _shallow(git):
        subprocess.run([git, "-C", str(ROOT), "fetch", "--unshallow", "--quiet"], capture_output=True, timeout=600)
        done = _archive(git, commit)
    if done.returncode != 0:
        without_history(f"commit {commit} is not in this clone's history: {done.stderr.decode().strip()}")
    with tarfile.open(fileobj=BytesIO(done.stdout)) as archive:
        archive.extractall(target, filter="data")
    return target


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def without_history(reason: str) -> NoReturn:
    """Skip an upgrade test on a developer's machine; fail it in CI, which must run it."""
    if in_ci():
        pytest.fail(
            f"{reason}. CI runs the upgrade tests: clone with the whole history "
            "(git clone without --depth, or git fetch --unshallow)",
            pytrace=False,
        )
    pytest.skip(reason)


def _archive(git: str, commit: str) -> subprocess.CompletedProcess:
    return subprocess.run([git, "-C", str(ROOT), "archive", commit, "contacts_tui", "relay"], capture_output=True)


def _shallow(git: str) -> bool:
    done = subprocess.run(
        [git, "-C", str(ROOT), "rev-parse", "--is-shallow-repository"], capture_output=True, text=True
    )
    return done.stdout.strip() == "true"


def run_earlier(commit: str, folder: Path, script: str, *args: str) -> str:
    """Run ``script`` (Python source) with the code of ``commit``; returns what it printed."""
    tree = earlier_tree(commit, folder)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-c", script, *args], cwd=tree, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
