"""The wheel carries every file the programs need, and its version is the one --version prints."""

from __future__ import annotations

import tomllib
import zipfile

import pytest

from contacts_tui.core.process import version

from .wheel import ROOT, package_files, wheel


@pytest.mark.slow
def test_the_wheel_holds_every_file_of_the_packages(tmp_path):
    built = wheel(tmp_path)
    with zipfile.ZipFile(built) as archive:
        inside = set(archive.namelist())
    needed = package_files()
    # A style sheet, web asset, catalog, migration or unit file left out of package-data shows here.
    assert [name for name in needed if name not in inside] == []
    assert {"contacts_tui/ui/app.tcss", "relay/systemd/contacts-relay.service"} <= inside


def test_the_version_is_pyprojects():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert version() == declared
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## {declared}" in changelog
