"""Where things are in a spool directory, for the owning relay and for readers elsewhere.

::

    lock                flock'd by the relay that owns the spool; holds its pid
    seg/NNNNNNNNNN.seg  append-only message segments (envelope + bytes per record)
    state.rec           append-only state records (attempts, per-recipient results, done)
    control/*.cmd       admin commands dropped by other processes (see ``control``)
"""

from __future__ import annotations

import os
from pathlib import Path

def segment_dir(directory: Path) -> Path:
    return directory / "seg"


def segment_path(directory: Path, number: int) -> Path:
    return segment_dir(directory) / f"{number:010d}.seg"


def segment_numbers(directory: Path) -> list[int]:
    """The segment files present, oldest first."""
    try:
        names = os.listdir(segment_dir(directory))
    except FileNotFoundError:
        return []
    numbers = []
    for name in names:
        stem, _, ext = name.partition(".")
        if ext == "seg" and stem.isdigit():
            numbers.append(int(stem))
    return sorted(numbers)


def lock_path(directory: Path) -> Path:
    return directory / "lock"


def control_dir(directory: str | os.PathLike[str]) -> Path:
    return Path(directory) / "control"


STATE_FILE = "state.rec"
# What the state file was called before: a spool written by an older relay
# is read from it, and the owner moves it to the new name at start.
OLD_STATE_FILE = "state.log"


def state_path(directory: Path) -> Path:
    """The state file to read: the current name, or the old one in a spool not yet opened since."""
    path = directory / STATE_FILE
    old = directory / OLD_STATE_FILE
    return old if not path.exists() and old.exists() else path
