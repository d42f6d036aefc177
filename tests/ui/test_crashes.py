"""A crash, in real processes on a real terminal (a pty): the portal shows
the customer one line with a reference and logs the details under it, the
admin TUI shows its traceback to the admin; both exit non-zero."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from ..portal_service import running_service
from .helpers import TERMINAL_DEADLINE
from .pty_session import PtySession

CRASHING = str(Path(__file__).with_name("crashing.py"))


def test_a_portal_crash_shows_one_line_with_a_reference_and_logs_the_details(sqlite_directory, tmp_path: Path) -> None:
    log = tmp_path / "portal.log"
    with running_service(sqlite_directory, tmp_path) as service:
        session = PtySession(
            [
                sys.executable,
                CRASHING,
                "contacts_tui.ui.portal.signin_screen:SignInScreen",
                "portal",
                "--socket",
                str(service.sockets["ssh"]),
            ],
            env={"CONTACTS_PORTAL_LOG": str(log)},
        )
        try:
            code = session.wait(TERMINAL_DEADLINE)
        finally:
            session.close()
    shown = session.text().strip()
    assert code == 1, shown
    # One line: no traceback, no local variable, no install path.
    assert "Traceback" not in shown and "must never see" not in shown and "site-packages" not in shown, shown
    assert len(shown) < 200, shown
    reference = re.fullmatch(
        r"The portal stopped on an error\. What you saved is kept\. Reference: ([0-9A-F]{8})", shown
    )
    assert reference, shown
    logged = log.read_text()
    assert f"crash {reference.group(1)}: RuntimeError: a defect in this screen" in logged
    assert "Traceback" in logged and "crashing.py" in logged


def test_the_admin_tui_exits_non_zero_after_a_crash(sqlite_url: str, sqlite_directory) -> None:
    session = PtySession(
        [sys.executable, CRASHING, "contacts_tui.ui.screens.customers:CustomersScreen", "--db", sqlite_url]
    )
    try:
        code = session.wait(TERMINAL_DEADLINE)
    finally:
        session.close()
    # The admin sees what failed (it is the admin's own terminal), and scripts see it failed.
    assert "a defect in this screen" in session.text()
    assert code == 1
