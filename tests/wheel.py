"""The project's wheel, for the tests that install it: the one CI built, or one built now."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("contacts_tui", "relay")


def wheel(folder: Path) -> Path:
    """CONTACTS_WHEEL (.ci/run builds it with python -m build), else a wheel built from a copy of the tree.

    A copy, because building in place leaves build/ and *.egg-info behind in the checkout.
    """
    given = os.environ.get("CONTACTS_WHEEL")
    if given:
        return Path(given)
    source = folder / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", "build", "dist", "*.egg-info", ".*_cache"),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(folder / "dist"), str(source)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    [built] = (folder / "dist").glob("contact_persons-*.whl")
    return built


def package_files() -> list[str]:
    """Every file of the two packages in the tree (code, styles, web assets, catalogs, migrations, unit)."""
    found = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                found.append(path.relative_to(ROOT).as_posix())
    return sorted(found)
