"""``contacts-relay``: the command line (serve, and the commands that look: preview, log, queue, messages)."""

from .main import main

__all__ = ["main"]
