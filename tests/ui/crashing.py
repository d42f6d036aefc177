"""`contacts-tui` with a defect put into one screen: it fails as it opens.

How a crash looks and ends can only be seen in a real process on a real
terminal; no screen of ours fails on purpose, so the test puts the failure
in: ``python crashing.py MODULE:SCREEN [contacts-tui arguments]``.
"""

from __future__ import annotations

import importlib
import sys


def main() -> int:
    where, *arguments = sys.argv[1:]
    module, _, name = where.partition(":")
    screen = getattr(importlib.import_module(module), name)

    def fail(self) -> None:
        secret = "a local variable the customer must never see"  # noqa: F841 - Textual's traceback shows locals
        raise RuntimeError("a defect in this screen")

    screen.on_mount = fail
    from contacts_tui.cli import main as contacts_tui

    return contacts_tui(arguments)


if __name__ == "__main__":
    sys.exit(main())
