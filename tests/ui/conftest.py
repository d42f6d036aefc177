"""Fixtures of the UI tests: the real app over a real SQLite directory, driven
by Pilot at 80x24, and a real capture relay. Plain helpers are in helpers.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from contacts_tui.core.directory.service import Directory
from contacts_tui.ui.app import ContactsApp, make_app
from relay.app import RelayThread

from ..capture import capture_relay as capture_relay_in
from ..portal_service import RunningService, running_service

UI_TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The real app under Pilot takes a few seconds a test: all of tests/ui/ is in the slow
    loop (pytest -m slow), and the quick loop (pytest -m 'not slow') leaves it out."""
    for item in items:
        if UI_TESTS in item.path.parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def utc(local_zone):
    """Times on screen are local; in the tests local is UTC, so screenshots match anywhere."""
    local_zone("UTC")


@pytest.fixture
def app(sqlite_directory: Directory) -> ContactsApp:
    return make_app(sqlite_directory, cursor_blink=False)


@pytest.fixture
def capture_relay(sqlite_directory: Directory, tmp_path) -> Iterator[RelayThread]:
    """A relay in capture mode on an ephemeral loopback port, as ``contacts-tui demo`` starts it."""
    with capture_relay_in(sqlite_directory, tmp_path) as relay:
        yield relay


@pytest.fixture
def portal_service(sqlite_directory: Directory, capture_relay, tmp_path) -> Iterator[RunningService]:
    """The portal service over the test's directory, mailing codes to the capture relay."""
    with running_service(sqlite_directory, tmp_path, capture_relay.port) as service:
        yield service
