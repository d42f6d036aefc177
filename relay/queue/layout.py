"""Where things are in a spool folder, for the owning relay and for readers elsewhere.

::

    lock                flock'd by the relay that owns the spool; holds its pid
    seg/NNNNNNNNNN.seg  append-only message segments (envelope + bytes per record)
    state.rec           append-only state records (attempts, per-recipient results, done)
    control/*.cmd       admin commands dropped by other processes (see ``control``)
"""

from __future__ import annotations

import os
from pathlib import Path


def segment_dir(folder: Path) -> Path:
    return folder / "seg"


def segment_path(folder: Path, number: int) -> Path:
    return segment_dir(folder) / f"{number:010d}.seg"


def segment_numbers(folder: Path) -> list[int]:
    """The segment files present, oldest first."""
    try:
        names = os.listdir(segment_dir(folder))
    except FileNotFoundError:
        return []
    numbers = []
    for name in names:
        stem, _, ext = name.partition(".")
        if ext == "seg" and stem.isdigit():
            numbers.append(int(stem))
    return sorted(numbers)


def lock_path(folder: Path) -> Path:
    return folder / "lock"


def control_dir(folder: str | os.PathLike[str]) -> Path:
    return Path(folder) / "control"


STATE_FILE = "state.rec"
# What the state file was called before: a spool written by an older relay
# is read from it, and the owner moves it to the new name at start.
OLD_STATE_FILE = "state.log"


def state_path(folder: Path) -> Path:
    """The state file to read: the current name, or the old one in a spool not yet opened since."""
    path = folder / STATE_FILE
    old = folder / OLD_STATE_FILE
    return old if not path.exists() and old.exists() else path


# -- one spool per worker ---------------------------------------------------------
#
# A relay serving with N worker processes gives each its own spool, so that no
# two processes write one file: ``worker-1`` ... ``worker-N`` under the spool
# folder. A spool of a worker that is no longer started (fewer workers than
# before) is drained by one that is; one written by a relay from before the
# workers (its files right in the spool folder) becomes ``worker-1``.

WORKER_PREFIX = "worker-"


def worker_spool(root: Path, worker: int) -> Path:
    return root / f"{WORKER_PREFIX}{worker}"


def worker_spools(root: str | os.PathLike[str]) -> dict[int, Path]:
    """The worker spools under ``root``, by worker number."""
    found = {}
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return {}
    for name in names:
        number = name[len(WORKER_PREFIX) :]
        if name.startswith(WORKER_PREFIX) and number.isdigit() and int(number) > 0:
            found[int(number)] = Path(root) / name
    return dict(sorted(found.items()))


def spools_to_drain(root: Path, worker: int, workers: int) -> list[Path]:
    """The spools of workers numbered above ``workers`` that ``worker`` takes over."""
    return [
        path
        for number, path in worker_spools(root).items()
        if number > workers and (number - 1) % workers == worker - 1
    ]


def legacy_files(root: Path) -> list[Path]:
    """What a relay from before the workers left right in the spool folder."""
    names = ("seg", "control", STATE_FILE, OLD_STATE_FILE)
    return [root / name for name in names if (root / name).exists()]


def all_spools(root: str | os.PathLike[str]) -> list[Path]:
    """Every spool under ``root`` to read or command: the workers', and a legacy one not yet moved."""
    spools = list(worker_spools(root).values())
    root = Path(root)
    if (root / "seg").is_dir():
        spools.insert(0, root)
    return spools
