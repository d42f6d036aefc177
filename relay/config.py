"""The relay's settings, checked and complete: what ``contacts-relay serve`` starts a relay with.

Every default is the one its component defines; the command line
(``cli/options.py``) reads the options and environment into a ``RelayConfig``.
Secrets (the upstream password) never appear in its repr.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field, fields
from pathlib import Path

from platformdirs import user_data_dir

from .delivery.backoff import DEFAULT_MAX_BACKOFF, DEFAULT_MAX_LIFETIME, DEFAULT_MIN_BACKOFF
from .delivery.rate import Rate
from .delivery.session import DEFAULT_CONNECTIONS, TlsMode, UpstreamConfig
from .rewrite import DEFAULT_CATEGORY_HEADER
from .server.access import DEFAULT_ALLOW
from .server.decision import Limits
from .server.handler import LOOKUP_TIMEOUT
from .server.listener import DEFAULT_CLIENT_CONNECTIONS
from .server.protocol import MIB
from .store.capture import DEFAULT_RETENTION

DEFAULT_LISTEN = "127.0.0.1:2525"


def default(name: str):
    """The default of a ``RelayConfig`` setting, for the options that read it
    (without building a config: that would look up this host's name)."""
    return next(f.default for f in fields(RelayConfig) if f.name == name)


class ConfigError(ValueError):
    """A setting cannot be used; the text names the option and says why."""


@dataclass(frozen=True)
class RelayConfig:
    listen_host: str = "127.0.0.1"
    listen_port: int = 2525
    # --upstream A --upstream B: tried in this order (HOST, PORT) per message.
    upstreams: tuple[tuple[str, int], ...] = ()
    capture: bool = False
    capture_retention: int = DEFAULT_RETENTION
    log_retention_days: float = 90.0
    spool: Path | None = None
    category_header: str = DEFAULT_CATEGORY_HEADER
    hostname: str = field(default_factory=socket.getfqdn)
    allow: tuple[str, ...] = DEFAULT_ALLOW
    auth_file: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_size: int = 25 * MIB
    max_received: int = Limits.max_received
    max_recipients: int = Limits.max_recipients
    max_connections: int = 200
    max_client_connections: int = DEFAULT_CLIENT_CONNECTIONS
    workers: int = 1
    metrics_host: str | None = None  # --metrics HOST:PORT: /metrics and /healthz; None: off
    metrics_port: int = 0
    log_format: str = "text"
    chaos: Path | None = None  # --chaos FILE: the capture relay's chaos rules at start
    # --http HOST:PORT: the web inbox and Mailpit-compatible API of a capture relay; None: off.
    http_host: str | None = None
    http_port: int = 0
    http_auth: Path | None = None  # --http-auth FILE: users (hashed passwords) the inbox asks for
    http_names: tuple[str, ...] = ()  # --http-name: more names the inbox answers to (its Host check)
    # Seconds a directory lookup may take before the sender gets 451 (not an option: tests shorten it).
    lookup_timeout: float = LOOKUP_TIMEOUT
    upstream_tls: TlsMode = "opportunistic"
    upstream_verify: bool = True
    upstream_ca_file: str | None = None
    upstream_user: str | None = None
    upstream_password: str | None = field(default=None, repr=False)
    upstream_connections: int = DEFAULT_CONNECTIONS
    upstream_rate: Rate | None = None
    # /healthz and check say "degraded" when the oldest queued message is older
    # than this many seconds, or the last failure_alert attempts all failed.
    queue_age_alert: float = 900.0
    failure_alert: int = 5
    min_backoff: float = DEFAULT_MIN_BACKOFF
    max_backoff: float = DEFAULT_MAX_BACKOFF
    max_lifetime: float = DEFAULT_MAX_LIFETIME

    @property
    def spool_dir(self) -> Path:
        return self.spool or default_spool_dir()

    def upstream_configs(self) -> list[UpstreamConfig]:
        """How to reach each upstream, in order: what delivery uses and ``check`` probes."""
        return [
            UpstreamConfig(
                host=host,
                port=port,
                tls=self.upstream_tls,
                verify=self.upstream_verify,
                ca_file=self.upstream_ca_file,
                username=self.upstream_user,
                password=self.upstream_password,
                helo_name=self.hostname,
                connections=self.upstream_connections,
                rate=self.upstream_rate,
            )
            for host, port in self.upstreams
        ]


def default_spool_dir() -> Path:
    return Path(user_data_dir("contact-persons")) / "spool"


def upstream_name(host: str, port: int) -> str:
    """HOST:PORT as the options take it, an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def host_port(value: str, option: str, default_port: int | None = None) -> tuple[str, int]:
    """'host:port', '[v6]:port', or 'host' when a default port exists."""
    text = value.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    if not port_text and default_port is not None:
        port_text = str(default_port)
    try:
        port = int(port_text)
        if not 0 <= port <= 65535:
            raise ValueError
    except ValueError:
        raise ConfigError(f"{option} {value!r} must be HOST:PORT with a port from 0 to 65535") from None
    if not host:
        raise ConfigError(f"{option} {value!r} has no host")
    return host, port
