"""The relay's process log: readable lines by default, JSON for log shippers (--log-format json)."""

from __future__ import annotations

import json
import logging
import sys
import time

from contacts_tui.core.display import visible

# aiosmtpd's own logger: it writes every command line at INFO, AUTH included.
_AIOSMTPD = "mail.log"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and a message's fields where there are some."""

    def __init__(self, worker: int | None = None) -> None:
        super().__init__()
        self.worker = worker

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.worker is not None:
            data["worker"] = self.worker
        mail = getattr(record, "mail", None)
        if isinstance(mail, dict):
            data.update(mail)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        # json escapes control characters; C1 ones are escaped too by json_line's rule.
        return json.dumps(data, ensure_ascii=True, default=str)


class VisibleFormatter(logging.Formatter):
    """Text lines with control characters from mail shown, not obeyed, on the operator's terminal."""

    def format(self, record: logging.LogRecord) -> str:
        return visible(super().format(record)).replace("\u240a", "\n")


def text_format(worker: int | None = None) -> str:
    name = "contacts-relay" if worker is None else f"contacts-relay[{worker}]"
    return f"%(asctime)s {name} %(levelname)s %(message)s"


def configure(verbose: bool, log_format: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else VisibleFormatter(text_format()))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    mail_log = logging.getLogger(_AIOSMTPD)
    mail_log.setLevel(logging.WARNING)
    # ... and warns about its own deprecated Session.login_data, which it sets
    # itself on every successful AUTH: noise that looks like a fault.
    mail_log.addFilter(lambda record: "login_data is deprecated" not in record.getMessage())


def for_worker(worker: int) -> None:
    """In a worker process: say which worker wrote each line."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, JsonFormatter):
            handler.setFormatter(JsonFormatter(worker))
        else:
            handler.setFormatter(VisibleFormatter(text_format(worker)))
