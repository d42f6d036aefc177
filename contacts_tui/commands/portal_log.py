"""Where a portal session's messages go: a code mail that could not be sent,
a crash's details. Never the terminal: that is the customer's screen.

The system log (the /dev/log socket: journald or rsyslog) where there is one,
else a file of the account the portal runs as; ``--log-file`` (or
CONTACTS_PORTAL_LOG) names a file instead.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

SYSTEM_LOG = "/dev/log"
LOG_FILE_ENV = "CONTACTS_PORTAL_LOG"
FORMAT = "contacts-tui-portal[%(process)d]: %(message)s"


def default_log_file() -> Path:
    from platformdirs import user_log_dir

    from contacts_tui.core.db import APP_NAME

    return Path(user_log_dir(APP_NAME)) / "portal.log"


def log_quietly(file: str | None = None) -> None:
    """Send the program's log to the system log, or to ``file``."""
    file = file or os.environ.get(LOG_FILE_ENV, "").strip() or None
    logger = logging.getLogger("contacts_tui")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler: logging.Handler | None = None
    if file is None and Path(SYSTEM_LOG).exists():
        try:
            handler = logging.handlers.SysLogHandler(SYSTEM_LOG)
        except OSError:
            handler = None  # a socket nobody listens on: no system log to write to
    if handler is None:
        path = Path(file) if file else default_log_file()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(path, encoding="utf-8")
        except OSError:
            handler = logging.NullHandler()  # nowhere to write: still never the customer's screen
    handler.setFormatter(
        logging.Formatter(FORMAT if isinstance(handler, logging.handlers.SysLogHandler) else "%(asctime)s " + FORMAT)
    )
    logger.addHandler(handler)
