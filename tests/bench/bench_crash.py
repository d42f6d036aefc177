"""Kill -9 the running relay mid-stream, again and again, and count what arrives.

    .venv/bin/python tests/bench/bench_crash.py [--rounds N] [--clients N] [--seed S]

Each round starts ``contacts-relay serve`` as a child process on one spool (kept
across rounds, as on a real host), lets concurrent SMTP clients send tagged
notifications, kills the relay with SIGKILL after a random number of 250
replies, starts it again on the same spool and waits until the recording
upstream has every message that got a 250; one message in four goes to two
customers and a stranger, and arrives as three copies, every one of which
counts. Printed per round and in total: accepted (messages that got 250),
delivered (all their copies arrived), lost (copies; must be 0), duplicated
(copies delivered twice: the relay died after the upstream took a message but
before it recorded that; at-least-once, as with Postfix), and delivered
without a 250 (the relay died after the fsync but before the client read its
reply).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from contacts_tui.core.catalog import DEFAULT_CATALOG  # noqa: E402
from contacts_tui.core.db import open_database  # noqa: E402
from contacts_tui.core.directory.service import Directory  # noqa: E402
from tests.relay.helpers import seed  # noqa: E402
from tests.relay.helpers.upstream import Upstream  # noqa: E402
from tests.relay.test_app_crash import crash_round  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--clients", type=int, default=8, help="concurrent SMTP clients")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: a fresh one, printed)")
    args = parser.parse_args()
    seed_value = args.seed if args.seed is not None else random.randrange(2**32)
    rng = random.Random(seed_value)
    print(f"kill -9 rounds: {args.rounds}, {args.clients} clients, seed {seed_value}")
    totals = dict(accepted=0, delivered=0, lost=0, duplicated=0, extra=0)
    upstream = Upstream().start()
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-crash-") as scratch:
            db_url = f"sqlite:///{Path(scratch) / 'contacts.db'}"
            database = open_database(db_url)
            seed(Directory(database, DEFAULT_CATALOG))
            database.close()
            for number in range(args.rounds):
                result = crash_round(f"r{number}", db_url, Path(scratch) / "spool", upstream, rng, clients=args.clients)
                print(
                    f"round {number + 1:3}: accepted {result.accepted:4}  delivered {result.delivered:4}  "
                    f"lost {len(result.lost)}  duplicated {result.duplicated}  without a 250 {result.extra}"
                )
                totals["accepted"] += result.accepted
                totals["delivered"] += result.delivered
                totals["lost"] += len(result.lost)
                totals["duplicated"] += result.duplicated
                totals["extra"] += result.extra
    finally:
        upstream.close()
    print(
        f"\ntotal: {args.rounds} rounds in {time.perf_counter() - started:.0f} s: accepted {totals['accepted']}, "
        f"delivered {totals['delivered']}, lost {totals['lost']}, duplicated {totals['duplicated']}, "
        f"delivered without a 250 {totals['extra']}"
    )
    return 1 if totals["lost"] else 0


if __name__ == "__main__":
    sys.exit(main())
