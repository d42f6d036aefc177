"""The relay's process log: readable lines by default, JSON for log shippers (--log-format json).

With JSON every line the relay writes to stderr is one object: mail events,
the start and stop (``event``: "listening", "metrics", "stopping",
"stopped", "error", ...), worker restarts, warnings, and tracebacks, which
go in an ``exception`` field instead of lines of their own. Everything goes
through ``logging``: the hooks for uncaught exceptions (threads included),
ignored ones and Python warnings are pointed at it too.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from typing import Any

from contacts_tui.core.display import visible

# aiosmtpd's own logger: it writes every command line at INFO, AUTH included.
_AIOSMTPD = "mail.log"
# The relay's start and stop: always written, whatever the level (-v or not).
_EVENTS = logging.getLogger("relay.events")
_EVENTS.setLevel(logging.INFO)
_LOGGER = logging.getLogger("relay")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and a message's fields where there are some."""

    def __init__(self, worker: int | None = None) -> None:
        super().__init__()
        self.worker = worker

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.worker is not None:
            data["worker"] = self.worker
        event = getattr(record, "event", None)
        if event:
            data["event"] = event
        for name in ("mail", "fields"):
            extra = getattr(record, name, None)
            if isinstance(extra, dict):
                data.update(extra)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            data["exception"] = record.stack_info
        # json escapes control characters; C1 ones are escaped too by json_line's rule.
        return json.dumps(data, ensure_ascii=True, default=str)


class VisibleFormatter(logging.Formatter):
    """Text lines with control characters from mail shown, not obeyed, on the operator's terminal.

    The start and stop read as they always have: ``contacts-relay: listening on ...``.
    """

    def __init__(self, fmt: str, worker: int | None = None) -> None:
        super().__init__(fmt)
        self.name = "contacts-relay" if worker is None else f"contacts-relay[{worker}]"

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "event", None):
            level = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
            text = f"{self.name}: {level}{record.getMessage()}"
            if record.exc_info:
                text += "\n" + self.formatException(record.exc_info)
        else:
            text = super().format(record)
        return visible(text).replace("\u240a", "\n")


def text_format(worker: int | None = None) -> str:
    name = "contacts-relay" if worker is None else f"contacts-relay[{worker}]"
    return f"%(asctime)s {name} %(levelname)s %(message)s"


class _Stderr(logging.StreamHandler):
    """Whatever ``sys.stderr`` is when a line is written (the tests' capture swaps it per test)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure(verbose: bool, log_format: str) -> None:
    handler = _Stderr()
    handler.setFormatter(JsonFormatter() if log_format == "json" else VisibleFormatter(text_format()))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    mail_log = logging.getLogger(_AIOSMTPD)
    mail_log.setLevel(logging.WARNING)
    # ... and warns about its own deprecated Session.login_data, which it sets
    # itself on every successful AUTH: noise that looks like a fault.
    mail_log.addFilter(lambda record: "login_data is deprecated" not in record.getMessage())
    _catch_everything()


def for_worker(worker: int) -> None:
    """In a worker process: say which worker wrote each line."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, JsonFormatter):
            handler.setFormatter(JsonFormatter(worker))
        else:
            handler.setFormatter(VisibleFormatter(text_format(worker), worker))


def event(kind: str, text: str, level: int = logging.INFO, exc_info: Any = None, **fields: Any) -> None:
    """A step of the relay's life (``kind``: listening, stopping, ...): always written, with ``fields`` in JSON."""
    _EVENTS.log(level, "%s", text, exc_info=exc_info, extra={"event": kind, "fields": fields})


def _catch_everything() -> None:
    """What Python would print to stderr by itself goes through the log (one JSON object in JSON mode)."""
    logging.captureWarnings(True)

    def uncaught(kind, value, traceback) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, traceback)
            return
        _LOGGER.critical("uncaught %s: %s", kind.__name__, value, exc_info=(kind, value, traceback))

    def in_thread(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "a thread"
        _LOGGER.error(
            "uncaught %s in %s: %s",
            args.exc_type.__name__,
            name,
            args.exc_value,
            exc_info=args.exc_value if args.exc_value is not None else True,
        )

    def unraisable(info) -> None:
        _LOGGER.warning(
            "%s: %s",
            info.err_msg or "exception ignored",
            info.object,
            exc_info=(info.exc_type, info.exc_value, info.exc_traceback) if info.exc_value else None,
        )

    sys.excepthook = uncaught
    threading.excepthook = in_thread
    sys.unraisablehook = unraisable
