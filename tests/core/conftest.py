"""Fixtures for the directory tests. ``directory`` (tests/conftest.py) runs
each test on SQLite and on PostgreSQL; everything goes through the real
``Directory``."""

from __future__ import annotations

import pytest

from contacts_tui.core.directory.service import Directory
from contacts_tui.core.records import CustomerRecord

from .helpers import new_customer


@pytest.fixture
def acme(directory: Directory) -> CustomerRecord:
    """One customer, owner@acme.example, with no contact persons yet."""
    return new_customer(directory)
