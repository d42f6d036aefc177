"""Who may relay: allowed networks, and clients that authenticated over TLS.

Passwords at rest are hashes in an auth file, one ``user:hash`` per line:
scrypt as ``contacts-relay passwd`` writes them, or bcrypt as ``htpasswd -B``
does. The same file format guards the web inbox (``--http-auth``). Nothing
here ever logs a password.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import ipaddress
import logging
import os
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

DEFAULT_ALLOW = ("127.0.0.0/8", "::1/128")
# Interactive logins tolerate ~50 ms; an attacker guessing offline pays it too.
_N, _R, _P = 2**14, 8, 1
_PREFIX = "scrypt"


class AccessConfigError(ValueError):
    """The allow-list or the auth file cannot be used; the text says where."""


def parse_networks(values: list[str] | tuple[str, ...]) -> tuple[ipaddress._BaseNetwork, ...]:
    networks = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise AccessConfigError(f"--allow {part!r} is not a network (CIDR like 192.0.2.0/24)") from None
    return tuple(networks)


def peer_ip(peer: object) -> str | None:
    """The client's IP address from a socket's peer name (a session's ``peer``, a transport's
    ``peername``): ``(host, port[, flow, scope])``; None for anything else (a Unix socket)."""
    if isinstance(peer, (tuple, list)) and peer:
        return str(peer[0])
    return None


def peer_allowed(peer_host: str | None, networks) -> bool:
    if not peer_host:
        return False
    try:
        address = ipaddress.ip_address(peer_host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    encode = lambda b: base64.b64encode(b).decode("ascii")  # noqa: E731
    return f"{_PREFIX}${_N}${_R}${_P}${encode(salt)}${encode(digest)}"


# bcrypt, as `htpasswd -B` writes it (Mailpit's --ui-auth-file takes such files).
BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")


def verify_password(password: str, stored: str) -> bool:
    if stored.startswith(BCRYPT_PREFIXES):
        import bcrypt

        try:
            return bcrypt.checkpw(password.encode("utf-8"), stored.encode("ascii"))
        except ValueError:
            return False
    try:
        prefix, n, r, p, salt, digest = stored.split("$")
        if prefix != _PREFIX:
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@dataclass(frozen=True)
class AuthFile:
    path: Path
    users: dict[str, str]

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AuthFile:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise AccessConfigError(f"auth file {path} cannot be read: {exc.strerror}") from None
        users = {}
        for number, line in enumerate(text.splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, stored = line.partition(":")
            if not sep or not stored.startswith((_PREFIX + "$", *BCRYPT_PREFIXES)):
                raise AccessConfigError(
                    f"auth file {path}, line {number}: expected USER:scrypt$... or a bcrypt hash "
                    "(plain-text passwords are not accepted, nor older hashes such as {SHA} or $apr1$; "
                    "use contacts-relay passwd or htpasswd -B)"
                )
            users[user] = stored
        return cls(path, users)

    def check(self, user: str, password: str) -> bool:
        stored = self.users.get(user)
        if stored is None:
            # Same cost for unknown users, so timing does not tell which exist.
            verify_password(password, _unknown_user_hash())
            return False
        return verify_password(password, stored)


@functools.cache
def _unknown_user_hash() -> str:
    """A hash to verify against for a user who does not exist: one scrypt run
    per failed AUTH, like a known user's, and not two (hashing it each time)."""
    return hash_password("", salt=b"\0" * 16)


class AuthUsers:
    """The auth file of a running relay, read again whenever it changes.

    ``contacts-relay passwd`` (or an editor) changes the file while the relay
    runs; each AUTH compares the file's size, mtime and inode with what was
    read (one stat) and reads it again if they differ; SIGHUP forces a read.
    A file that cannot be read or has a bad line lets nobody in until it is
    fixed: keeping the old users would keep a user the admin just removed.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._stamp = _stamp(self.path)
        self._file: AuthFile | None = AuthFile.load(self.path)  # at start a bad file is an error

    def check(self, user: str, password: str) -> bool:
        # An unreadable file lets nobody in, at the cost of an unknown user.
        return self.current().check(user, password)

    def current(self) -> AuthFile:
        """The file as it is now: read again if it changed (empty while it cannot be read)."""
        if _stamp(self.path) != self._stamp:
            logger.warning("%s", self.reload())
        return self._file or AuthFile(self.path, {})

    def reload(self) -> str:
        """Read the file again; returns a sentence for the log."""
        self._stamp = _stamp(self.path)
        try:
            self._file = AuthFile.load(self.path)
        except AccessConfigError as exc:
            self._file = None
            return f"{exc}; AUTH fails for every user until it is fixed"
        count = len(self._file.users)
        return f"auth file {self.path} read again: {count} user{'' if count == 1 else 's'}"


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_ino, info.st_size, info.st_mtime_ns


def set_password(path: str | os.PathLike[str], user: str, password: str) -> None:
    """Add or replace one user's hash, writing the file atomically with mode 0600."""
    if not user or ":" in user or any(ch.isspace() for ch in user):
        raise AccessConfigError("user names may not be empty or contain ':' or spaces")
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    kept = [line for line in lines if line.partition(":")[0].strip() != user]
    kept.append(f"{user}:{hash_password(password)}")
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write("\n".join(kept) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
