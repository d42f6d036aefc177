"""The TUI benchmark's database on PostgreSQL: a copy of the SQLite one.

A database of its own on the server (``contacts_bench_N_M``), made by the
program's own migrations and filled with COPY from the SQLite file, once:
it is reused while it holds as many customers and contact persons.
"""

from __future__ import annotations

import io
import sqlite3
import time
from pathlib import Path
from urllib.parse import urlsplit

TABLES = {
    "customer": (
        "id, name, name_key, email, email_key, phone, active, contact_count, search_text, created_at, updated_at"
    ),
    "contact_person": (
        "id, customer_id, name, email, email_key, phone, role, receive_all, deleted_at, created_at, updated_at"
    ),
    "contact_category": "contact_id, category",
}
BOOLEANS = {"active", "receive_all"}
BATCH = 50_000


def copy_to_postgres(path: Path, server: str, customers: int, each: int, name: str | None = None) -> str:
    import psycopg2

    name = name or f"contacts_bench_{customers}_{each}"
    url = urlsplit(server)._replace(path="/" + name).geturl()
    admin = psycopg2.connect(server)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        exists = cursor.fetchone() is not None
    if exists and _holds(url, customers, each):
        print(f"reusing the PostgreSQL database {name}")
        admin.close()
        return url
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {name}")
    admin.close()
    started = time.perf_counter()
    from contacts_tui.core.db import open_database

    database = open_database(url)  # the schema, as the program makes it
    database.close()
    source = sqlite3.connect(path)
    target = psycopg2.connect(url)
    with target, target.cursor() as cursor:
        # Indexes are built once after the copy, not row by row during it.
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) AND indexname NOT LIKE '%%pkey'",
            (list(TABLES),),
        )
        indexes = cursor.fetchall()
        for index, _ in indexes:
            cursor.execute(f"DROP INDEX {index}")
        for table, columns in TABLES.items():
            names = [c.strip() for c in columns.split(",")]
            rows = source.execute(f"SELECT {columns} FROM {table} ORDER BY rowid")
            while batch := rows.fetchmany(BATCH):
                cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", _tsv(batch, names))
        for _, definition in indexes:
            cursor.execute(definition)
        for table in ("customer", "contact_person"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    target.autocommit = True
    with target.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    target.close()
    print(f"copied into the PostgreSQL database {name} in {time.perf_counter() - started:.0f} s")
    return url


def _holds(url: str, customers: int, each: int) -> bool:
    import psycopg2

    try:
        with psycopg2.connect(url) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT (SELECT count(*) FROM customer), (SELECT count(*) FROM contact_person)")
            return cursor.fetchone() == (customers, customers * each)
    except psycopg2.Error:
        return False


def _tsv(rows, names: list[str]) -> io.StringIO:
    out = io.StringIO()
    for row in rows:
        cells = []
        for name, value in zip(names, row, strict=True):
            if value is None:
                cells.append("\\N")
            elif name in BOOLEANS:
                cells.append("t" if value else "f")
            else:
                text = str(value)
                cells.append(text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r"))
        out.write("\t".join(cells) + "\n")
    out.seek(0)
    return out
