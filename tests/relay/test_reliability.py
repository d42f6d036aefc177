"""The reliability suite, short form: each fault, hostile input and abuse
scenario of ``helpers/reliability.py`` against ``contacts-relay serve``.

Whatever happens, no message that got 250 is lost, no notification goes out
without its contacts, the relay does not crash, and no other client waits a
second for a reply. ``tests/bench/bench_reliability.py`` runs the long form.
"""

from __future__ import annotations

import pytest

from .helpers import reliability

pytestmark = pytest.mark.slow  # real processes killed and restarted, minutes of mail


def check(outcome: reliability.Outcome) -> None:
    print(reliability.HEADER)
    print(outcome.row())
    assert outcome.problems() == [], "\n".join(outcome.notes)
    assert outcome.accepted > 0, "no message got through at all"


def test_database_moved_mid_stream(tmp_path, upstream):
    check(reliability.database_moved(tmp_path, upstream, 60))


def test_database_locked_by_a_long_writer(tmp_path, upstream):
    check(reliability.database_locked(tmp_path, upstream, 40))


def test_postgresql_stopped_and_started(tmp_path, upstream, pg_url):
    check(reliability.postgres_restarted(tmp_path, upstream, 40, pg_url))


@pytest.mark.parametrize("kind", ["hanging", "flapping", "late"])
def test_upstream_trouble(tmp_path, upstream, kind):
    check(reliability.upstream_trouble(tmp_path, upstream, 30, kind))


def test_spool_disk_full(tmp_path, upstream):
    check(reliability.spool_full(tmp_path, upstream, 120))


def test_kill_9_in_a_loop(tmp_path, upstream):
    check(reliability.killed_in_a_loop(tmp_path, upstream, 60))


def test_hostile_input(tmp_path, upstream):
    check(reliability.hostile_sessions(tmp_path, upstream, reliability.fuzzed_inputs(25)))


def test_abuse(tmp_path, upstream, tls_files, auth_file):
    check(reliability.abuse(tmp_path, upstream, tls_files, auth_file, 30))
