"""The queue: the durable spool of accepted messages, their records, and its control from other processes.

Like Postfix's queue files, one ``QueuedMessage`` per message is committed
here and read by every later step; ``Reply`` and ``Failure`` are what it
records per recipient.
"""

from .control import deletes_requested, read_queue, request_delete, request_retry_now
from .message import QueuedMessage, mail_flags, new_queue_id
from .records import SpoolError
from .reply import EXPIRED_STATUS, Failure, Reply
from .spool import Spool, SpoolBusy, adopt_legacy_spool

__all__ = [
    "EXPIRED_STATUS",
    "Failure",
    "QueuedMessage",
    "Reply",
    "Spool",
    "adopt_legacy_spool",
    "SpoolBusy",
    "SpoolError",
    "deletes_requested",
    "mail_flags",
    "new_queue_id",
    "read_queue",
    "request_delete",
    "request_retry_now",
]
