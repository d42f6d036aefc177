"""Fixtures that tests outside tests/core import too."""

from __future__ import annotations

import uuid
from urllib.parse import quote, urlsplit

import pytest


@pytest.fixture
def second_db_url(db_url, request, tmp_path):
    """Another empty database on the same backend as ``db_url``."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'second.db'}"
        return
    import psycopg2

    base = request.getfixturevalue("pg_database_url")
    schema = "t_" + uuid.uuid4().hex[:12]
    connection = psycopg2.connect(base)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {schema}")
    parts = urlsplit(base)
    option = quote(f"-c search_path={schema},public")
    try:
        yield parts._replace(query=f"{parts.query}&options={option}" if parts.query else f"options={option}").geturl()
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA {schema} CASCADE")
        connection.close()
