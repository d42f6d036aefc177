"""Who may use the web inbox: the Host it is asked for, and basic auth.

Safe by default: the inbox listens on loopback unless told otherwise, and
anywhere else only with users (``--http-auth FILE``, the relay's auth file
format: scrypt or bcrypt hashes) or an explicit ``--http-no-auth``. The
``Host`` of every request must be an IP address, ``localhost``, or a name
the inbox was started with: a page of another site that points its own
name at this machine (DNS rebinding) gets nothing.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import ipaddress
import os
import socket
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..server.access import AuthUsers

LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")
FAILED_AUTH_DELAY = 1.0  # seconds before a wrong password is answered, as the SMTP side does
REALM = "contacts-relay inbox"


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


def host_names(bind_host: str, names: tuple[str, ...] = ()) -> frozenset[str]:
    """The names (not addresses: those always do) a request's Host may give.

    ``localhost`` always; the name the inbox was bound to; on every address
    (0.0.0.0 or ::) this host's own names; and whatever ``--http-name`` adds.
    """
    found = {*LOOPBACK_NAMES, *(n.strip().lower().rstrip(".") for n in names if n.strip())}
    bound = bind_host.strip("[]").lower()
    if bound in ("", "0.0.0.0", "::"):
        found.update({socket.gethostname().lower(), socket.getfqdn().lower()})
    elif not _is_address(bound):
        found.add(bound.rstrip("."))
    return frozenset(found)


def host_allowed(host_header: str | None, names: frozenset[str]) -> bool:
    """Whether a request's Host header (with or without a port) names this inbox."""
    if not host_header:
        return False
    text = host_header.strip().lower()
    if text.startswith("["):
        host = text[1 : text.find("]")] if "]" in text else ""
        return _is_address(host)
    host = text.rsplit(":", 1)[0] if text.count(":") == 1 else text
    return _is_address(host) or host.rstrip(".") in names


class BasicAuth:
    """Users of ``--http-auth FILE``, checked per request.

    Every request carries the password, and a hash check costs tens of
    milliseconds on purpose; a password that was right for the user's hash
    as it stands in the file now is remembered (as a keyed digest, never
    the password), so a page's dozen requests cost one check. Checks run in
    two threads: a flood of guesses cannot take more than that.
    """

    def __init__(self, path: Path) -> None:
        self.users = AuthUsers(path)  # a bad file stops the start, as --auth-file does
        self._key = os.urandom(32)
        self._known: OrderedDict[bytes, str] = OrderedDict()
        self._checks = ThreadPoolExecutor(max_workers=2, thread_name_prefix="inbox-auth")

    def _digest(self, user: str, password: str) -> bytes:
        return hmac.new(self._key, f"{user}\0{password}".encode(), hashlib.sha256).digest()

    async def allows(self, header: str | None) -> bool:
        credentials = _credentials(header)
        if credentials is None:
            return False
        user, password = credentials
        digest = self._digest(user, password)
        loop = asyncio.get_running_loop()
        current = await loop.run_in_executor(self._checks, self.users.current)
        stored = current.users.get(user)
        if stored is not None and self._known.get(digest) == stored:
            self._known.move_to_end(digest)
            return True
        if not await loop.run_in_executor(self._checks, current.check, user, password):
            await asyncio.sleep(FAILED_AUTH_DELAY)
            return False
        self._known[digest] = current.users[user]
        while len(self._known) > 256:
            self._known.popitem(last=False)
        return True

    def close(self) -> None:
        self._checks.shutdown(wait=False, cancel_futures=True)


def _credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header[:6].lower() == "basic ":
        return None
    try:
        text = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = text.partition(":")
    return (user, password) if colon else None
