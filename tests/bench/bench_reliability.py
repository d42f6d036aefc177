"""The reliability suite, long form: every fault, hostile input and abuse scenario
with more mail and more rounds than CI runs, as one table.

    .venv/bin/python tests/bench/bench_reliability.py [--scale N] [--pg URL]

Each scenario runs `contacts-relay serve` in front of the recording upstream
(see tests/relay/helpers/reliability.py for what each one does) while
billing-app clients send tagged notifications and retry 4xx replies. The
figures: messages sent, 4xx replies retried, 250s, delivered, duplicated,
lost (must be 0), delivered without their contacts (must be 0), crashes
(must be 0), and the slowest reply another client saw meanwhile (under 1 s).
`--pg` (or CONTACTS_TEST_PG) adds the PostgreSQL scenario.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from relay.server.access import set_password  # noqa: E402
from tests.relay.helpers import (  # noqa: E402
    PASSWORD,
    USER,
    reliability,  # noqa: E402
)
from tests.relay.helpers.upstream import TlsFiles, Upstream  # noqa: E402


def tls_files(folder: Path) -> TlsFiles:
    files = TlsFiles(folder / "cert.pem", folder / "key.pem")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(files.key),
            "-out",
            str(files.cert),
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return files


def throwaway_database(server_url: str, *, drop: bool = False) -> str:
    """A new, empty database on the server (dropped again with ``drop``)."""
    from urllib.parse import urlsplit

    import psycopg2

    name = f"bench_reliability_{os.getpid()}"
    admin = psycopg2.connect(server_url)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if not drop:
            cursor.execute(f"CREATE DATABASE {name}")
    admin.close()
    return urlsplit(server_url)._replace(path="/" + name).geturl()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=10, help="messages per scenario, in tens of the CI form")
    parser.add_argument(
        "--pg",
        default=os.environ.get("CONTACTS_TEST_PG", ""),
        help="a PostgreSQL server URL (with a database to create tables in)",
    )
    args = parser.parse_args()
    n = args.scale
    scenarios = [
        ("moved", lambda f, u: reliability.database_moved(f, u, 60 * n)),
        ("locked", lambda f, u: reliability.database_locked(f, u, 40 * n)),
        ("hanging", lambda f, u: reliability.upstream_trouble(f, u, 30 * n, "hanging")),
        ("flapping", lambda f, u: reliability.upstream_trouble(f, u, 30 * n, "flapping")),
        ("late", lambda f, u: reliability.upstream_trouble(f, u, 30 * n, "late")),
        ("full", lambda f, u: reliability.spool_full(f, u, 120 * n)),
        ("kill", lambda f, u: reliability.killed_in_a_loop(f, u, 60 * n)),
        ("hostile", lambda f, u: reliability.hostile_sessions(f, u, reliability.fuzzed_inputs(25 * n))),
        ("abuse", lambda f, u: reliability.abuse(f, u, tls, auth, 30 * n)),
    ]
    if args.pg:
        pg_url = throwaway_database(args.pg)
        scenarios.insert(2, ("pg", lambda f, u: reliability.postgres_restarted(f, u, 40 * n, pg_url)))
    work = Path(tempfile.mkdtemp(prefix="bench-reliability-"))
    tls = tls_files(work)
    auth = work / "relay-users"
    set_password(auth, USER, PASSWORD)
    print(reliability.HEADER, flush=True)
    failed = []
    try:
        for name, run in scenarios:
            folder = work / name
            folder.mkdir()
            upstream = Upstream().start()
            try:
                outcome = run(folder, upstream)
            finally:
                upstream.close()
            print(outcome.row(), flush=True)
            failed += [f"{outcome.scenario}: {problem}" for problem in outcome.problems()]
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if args.pg:
            throwaway_database(args.pg, drop=True)
    for problem in failed:
        print(f"FAILED {problem}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
