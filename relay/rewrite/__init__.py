"""Rewriting: a message's header block read once, and the pure rewrite that copies contact persons on it.

Nothing here touches a database, a file or a socket: bytes in, bytes out.
"""

from .cc import (
    DEFAULT_CATEGORY_HEADER,
    Added,
    CopyPlan,
    RewriteResult,
    plan_copies,
    read_category,
    rewrite,
    transport_address,
    write_copy,
)
from .headers import HeaderBlock, header_addresses, split_message
from .trace import received_header

__all__ = [
    "DEFAULT_CATEGORY_HEADER",
    "Added",
    "CopyPlan",
    "HeaderBlock",
    "RewriteResult",
    "header_addresses",
    "plan_copies",
    "read_category",
    "received_header",
    "rewrite",
    "split_message",
    "transport_address",
    "write_copy",
]
