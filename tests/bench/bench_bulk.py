"""How long bulk changes take at 100k customers, beside the same changes one by one.

    .venv/bin/python tests/bench/bench_bulk.py [--customers N] [--contacts-each N] [--runs N] [--pg URL]

Uses the TUI benchmark's SQLite database (bench_tui.py builds it once and
caches it), copied so the cache stays as it was. Each run plans and applies
two bulk changes and their undo, and prints the time of each step:

- every bookkeeper at ledger-firm.example not opted in to account (the
  README's example; a few thousand contact persons at as many customers):
  switch account on, then undo (switch it off for those same records);
- every customer a search for "acme" shows (about 3% of them): deactivate,
  then undo (activate those same customers).

Then the same change in the TUI, headless at 80x24: the time to check
and to apply, and the longest the UI thread stalled while the work ran in
its thread (the event loop sampled every 10 ms).

Beside them, the peer: the single calls an admin's keys make
(``set_category``, ``set_customer_active``), timed on the first 200 records
of the same plan and scaled to all of them. With ``--pg URL`` (a server
where the user may create a database) the same runs on PostgreSQL, in a
database of its own (``contacts_bulk_bench_N_M``, copied once and put back
by each run's undo).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.bench_tui import build, default_path, is_built  # noqa: E402

PEER_SAMPLE = 200


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - started


def one_run(directory, name: str, selection, action, single) -> dict:
    """Plan, apply and undo one bulk change; the peer on a sample of the same records."""
    plan, planned = timed(directory.plan_bulk, selection, action)
    result, applied = timed(directory.apply_bulk, plan)
    undo_action, undo_selection = result.undo()
    undo_plan, undo_planned = timed(directory.plan_bulk, undo_selection, undo_action)
    undone, undo_applied = timed(directory.apply_bulk, undo_plan)
    assert undone.count == result.count == plan.count, (undone.count, result.count, plan.count)
    sample = list(plan.ids[:PEER_SAMPLE])
    started = time.perf_counter()
    for record_id in sample:
        single(record_id, action.on)
    peer = (time.perf_counter() - started) / max(len(sample), 1)
    for record_id in sample:  # put back, untimed
        single(record_id, not action.on)
    return {
        "name": name,
        "records": plan.count,
        "customers": plan.customers,
        "plan": planned,
        "apply": applied,
        "undo": undo_planned + undo_applied,
        "peer_each": peer,
    }


def run_all(directory, runs: int) -> list[dict]:
    from contacts_tui.core.directory.bulk.actions import DEACTIVATE, SWITCH_ON, BulkAction, Selection

    keepers = directory.clean_filter(role="Bookkeeping", not_category="account", domain="ledger-firm.example")
    results = []
    for _ in range(runs):
        results.append(
            one_run(
                directory,
                "switch account on: bookkeepers @ledger-firm.example not in account",
                Selection.shown_by("", keepers),
                BulkAction(SWITCH_ON, "account"),
                lambda record_id, on: directory.set_category(record_id, "account", on),
            )
        )
        results.append(
            one_run(
                directory,
                "deactivate: the customers a search for 'acme' shows",
                Selection.shown_by("acme", directory.clean_filter()),
                BulkAction(DEACTIVATE),
                lambda record_id, on: directory.set_customer_active(record_id, on),
            )
        )
    return results


async def in_the_tui(url: str) -> dict:
    """The README's flow at 80x24 (filter, *, x, switch Account on, y, then z
    and y): the time from each key to its answer, and the longest the UI
    thread stalled while the work ran in its thread (its event loop, sampled
    every 10 ms), beside the longest it stalled idle for as long just after."""
    from textual import events

    from contacts_tui.core.db import open_database
    from contacts_tui.core.directory.service import Directory
    from contacts_tui.ui.app import make_app
    from contacts_tui.ui.screens.bulk_dialog import BulkDialog

    directory = Directory(open_database(url))
    app = make_app(directory, cursor_blink=False)
    stalls: list[float] = []
    result: dict = {}

    async def watch() -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(0.01)
            stalls.append(time.perf_counter() - started - 0.01)

    async def until(condition, deadline: float = 300.0) -> float:
        started = time.perf_counter()
        while not condition():
            if time.perf_counter() - started > deadline:
                raise TimeoutError("the TUI did not answer")
            await asyncio.sleep(0.005)
        return time.perf_counter() - started

    def key(name: str, character: str | None = None) -> None:
        # Posted, not pilot.press: that waits for every worker, the bulk change's too.
        app.post_message(events.Key(name, character))

    def working(dialog) -> bool:
        return app.screen is dialog and dialog.step in ("checking", "applying")

    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await until(lambda: screen.table.row_count > 0)
        keepers = directory.clean_filter(role="Bookkeeping", not_category="account", domain="ledger-firm.example")
        screen._filtered(keepers)
        await until(lambda: screen.shown is not None and screen.shown.filter == keepers and not screen.in_flight)
        watcher = asyncio.create_task(watch())
        for name in ("change", "undo"):
            if name == "change":
                await pilot.press("asterisk", "x")
                dialog = app.screen
                assert isinstance(dialog, BulkDialog)
                labels = [text for text, _ in dialog.choices]
                dialog.query_one("#bulk-actions").highlighted = labels.index("Switch Account on")
            stalls.clear()
            started = time.perf_counter()
            if name == "change":
                key("enter")
            else:
                key("z", "z")
            await until(lambda: isinstance(app.screen, BulkDialog) and app.screen.step == "confirm")
            dialog = app.screen
            result[f"{name} check"] = time.perf_counter() - started
            result[f"{name} count"] = dialog.plan.count
            checking = max(stalls, default=0.0)
            stalls.clear()
            started = time.perf_counter()
            key("y", "y")
            await until(lambda d=dialog: not working(d) and app.screen is not d)
            result[f"{name} apply"] = time.perf_counter() - started
            result[f"{name} stall"] = max(checking, max(stalls, default=0.0))
            # As long again with nothing to do: what this machine's load alone stalls.
            await pilot.pause()
            await app.workers.wait_for_complete()
            stalls.clear()
            await asyncio.sleep(result[f"{name} check"] + result[f"{name} apply"])
            result[f"{name} idle"] = max(stalls, default=0.0)
        watcher.cancel()
    directory.database.close()
    return result


def span(rows: list[dict], key: str) -> str:
    values = [r[key] for r in rows]
    return f"{min(values):.2f}-{max(values):.2f} s (median {statistics.median(values):.2f})"


def report(results: list[dict], where: str) -> None:
    print(f"\n{where}")
    for name in dict.fromkeys(r["name"] for r in results):
        rows = [r for r in results if r["name"] == name]
        first = rows[0]
        print(f"  {name}: {first['records']:,} records at {first['customers']:,} customers")

        print(f"    plan   {span(rows, 'plan')}")
        print(f"    apply  {span(rows, 'apply')}")
        print(f"    undo   {span(rows, 'undo')}  (plan and apply)")
        each = [r["peer_each"] for r in rows]
        print(
            f"    one by one, as the single calls: {min(each) * 1000:.1f}-{max(each) * 1000:.1f} ms a record, "
            f"{min(each) * first['records']:.1f}-{max(each) * first['records']:.1f} s for all of them"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--contacts-each", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg", metavar="URL", help="also on PostgreSQL (a server URL with CREATEDB)")
    args = parser.parse_args()

    from contacts_tui.core.db import open_database
    from contacts_tui.core.directory.history import Actor
    from contacts_tui.core.directory.service import Directory

    cached = default_path(args.customers, args.contacts_each)
    if not is_built(cached, args.customers, args.contacts_each):
        build(cached, args.customers, args.contacts_each)
    actor = Actor("admin bench", "cli")
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "bulk.db"
        shutil.copyfile(cached, copy)
        database = open_database(f"sqlite:///{copy}")
        report(run_all(Directory(database).as_actor(actor), args.runs), f"SQLite, {args.customers:,} customers")
        database.close()
        print(f"\nIn the TUI at 80x24, SQLite, {args.customers:,} customers (f, *, x, Switch Account on, y; z, y)")
        for _ in range(args.runs):
            tui = asyncio.run(in_the_tui(f"sqlite:///{copy}"))
            for name in ("change", "undo"):
                print(
                    f"  {name}: {tui[name + ' count']:,} records, checked in {tui[name + ' check']:.2f} s, "
                    f"applied in {tui[name + ' apply']:.2f} s; the UI thread's longest stall meanwhile "
                    f"{tui[name + ' stall'] * 1000:.0f} ms (idle as long after it: {tui[name + ' idle'] * 1000:.0f} ms)"
                )
        if args.pg:
            from tests.bench.bench_tui_pg import copy_to_postgres

            name = f"contacts_bulk_bench_{args.customers}_{args.contacts_each}"
            url = copy_to_postgres(cached, args.pg, args.customers, args.contacts_each, name=name)
            database = open_database(url)
            where = f"PostgreSQL, {args.customers:,} customers"
            report(run_all(Directory(database).as_actor(actor), args.runs), where)
            database.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
