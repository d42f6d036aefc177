"""One self-updating progress line for long CLI work, shown only on a terminal."""

from __future__ import annotations

import time
from typing import TextIO

_LABELS = {"reading": "Checking", "writing": "Writing", "exporting": "Exporting"}


class ProgressLine:
    def __init__(self, stream: TextIO, interval: float = 0.2) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.interval = interval
        self.started = time.monotonic()
        self.last = 0.0
        self.shown = False

    def update(self, phase: str, done: int, total: int) -> None:
        """progress(phase, done, total); total 0 means unknown. Reading counts bytes, the rest rows."""
        now = time.monotonic()
        if not self.enabled or now - self.last < self.interval:
            return
        self.last = now
        label = _LABELS.get(phase, phase.capitalize())
        unit = "bytes" if phase == "reading" else "rows"
        if total:
            text = f"{label}: {done:,} of {total:,} {unit} ({done * 100 // total}%)"
        else:
            text = f"{label}: {done:,} {unit}"
        elapsed = now - self.started
        self.stream.write(f"\r\x1b[K{text}  {elapsed:.0f}s")
        self.stream.flush()
        self.shown = True

    def finish(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False
