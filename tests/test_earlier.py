"""The upgrade tests' git history: skipped without it on a developer's machine, a failure in CI."""

from __future__ import annotations

import pytest

from . import earlier


def test_without_history_an_upgrade_test_is_skipped_on_a_developers_machine(monkeypatch, tmp_path):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(earlier, "ROOT", tmp_path)  # a source tarball: no .git
    with pytest.raises(pytest.skip.Exception, match="needs the project's git history"):
        earlier.earlier_tree(earlier.BEFORE_HISTORY, tmp_path / "trees")


@pytest.mark.parametrize("ci", ["true", "1"])
def test_without_history_an_upgrade_test_fails_in_ci(monkeypatch, tmp_path, ci):
    monkeypatch.setenv("CI", ci)
    monkeypatch.setattr(earlier, "ROOT", tmp_path)
    with pytest.raises(pytest.fail.Exception, match="CI runs the upgrade tests: clone with the whole history"):
        earlier.earlier_tree(earlier.BEFORE_HISTORY, tmp_path / "trees")


def test_a_commit_the_clone_lacks_fails_in_ci(monkeypatch, tmp_path):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="is not in this clone's history"):
        earlier.earlier_tree("0000000000000000000000000000000000000000", tmp_path / "trees")
