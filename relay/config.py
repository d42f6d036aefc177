"""Relay settings: command-line options with RELAY_* environment defaults.

Secrets (the upstream password) come only from a file or the environment,
never from the command line, and never appear in a repr or a log line.
"""

from __future__ import annotations

import argparse
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from platformdirs import user_data_dir

from .access import DEFAULT_ALLOW

DEFAULT_LISTEN = "127.0.0.1:2525"
DEFAULT_HEADER = "X-Notification-Category"
MIB = 1024 * 1024


class ConfigError(ValueError):
    """A setting cannot be used; the text names the option and says why."""


@dataclass(frozen=True)
class RelayConfig:
    listen_host: str = "127.0.0.1"
    listen_port: int = 2525
    upstream_host: str | None = None
    upstream_port: int = 25
    capture: bool = False
    capture_retention: int = 1000
    log_retention_days: float = 90.0
    spool: Path | None = None
    category_header: str = DEFAULT_HEADER
    hostname: str = field(default_factory=socket.getfqdn)
    allow: tuple[str, ...] = DEFAULT_ALLOW
    auth_file: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_size: int = 25 * MIB
    max_received: int = 50
    max_recipients: int = 1000
    max_connections: int = 200
    upstream_tls: str = "opportunistic"
    upstream_verify: bool = True
    upstream_ca_file: str | None = None
    upstream_user: str | None = None
    upstream_password: str | None = field(default=None, repr=False)
    upstream_connections: int = 4
    min_backoff: float = 300.0
    max_backoff: float = 4000.0
    max_lifetime: float = 5 * 86400.0

    @property
    def spool_dir(self) -> Path:
        return self.spool or Path(user_data_dir("contact-persons")) / "spool"


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


def env_value(name: str, default: str | None = None) -> str | None:
    """A RELAY_* variable's value; unset or empty gives ``default``."""
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_flag(name: str) -> bool:
    return (env_value(name, "") or "").lower() in ("1", "true", "yes", "on")


def _number(convert: type, env_name: str):
    """An argparse type that names the variable too: a bad value may come from the environment."""

    def parse(text: str):
        try:
            return convert(text)
        except ValueError:
            kind = "a whole number" if convert is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind} (from the option or {env_name})") from None

    parse.__name__ = convert.__name__
    return parse


def _numeric(group, flag: str, metavar: str, convert: type, env: str, default: str, text: str, note: str = "") -> None:
    group.add_argument(flag, metavar=metavar, type=_number(convert, env), default=env_value(env, default),
                       help=f"{text} ({env}; default %(default)s{note})")


SERVE_EPILOG = (
    "The contact directory: --db URL or CONTACTS_DB (sqlite:///path or postgresql://user@host/db; default: "
    "the SQLite file that contacts-tui uses), --catalog FILE or CONTACTS_CATALOG. "
    "SIGTERM or Ctrl-C stops the relay: it stops accepting, lets transactions in flight finish (up to 30 s), "
    "and keeps the rest in the spool. SIGHUP reads the --auth-file again."
)


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    # --db comes from the options all commands share; say here where it is read from.
    parser.epilog = parser.epilog or SERVE_EPILOG
    where = parser.add_argument_group("where mail comes from and goes to")
    where.add_argument("--listen", metavar="HOST:PORT", default=env_value("RELAY_LISTEN", DEFAULT_LISTEN),
                       help="address to accept mail on (RELAY_LISTEN; default %(default)s)")
    mode = where.add_mutually_exclusive_group()
    mode.add_argument("--upstream", metavar="HOST:PORT", default=env_value("RELAY_UPSTREAM"),
                      help="the real mail server to pass mail on to (RELAY_UPSTREAM; port 25 if left out)")
    mode.add_argument("--capture", action="store_true", default=_env_flag("RELAY_CAPTURE"),
                      help="store rewritten messages for inspection instead of sending them (RELAY_CAPTURE=1)")
    _numeric(where, "--capture-retention", "N", int, "RELAY_CAPTURE_RETENTION", "1000",
             "captured messages to keep, oldest dropped first")
    _numeric(where, "--log-retention", "DAYS", float, "RELAY_LOG_RETENTION", "90",
             "relay log entries older than this are deleted; 0 keeps them forever")
    where.add_argument("--spool", metavar="DIR", default=env_value("RELAY_SPOOL"),
                       help="durable queue directory (RELAY_SPOOL; default in the user data directory)")
    where.add_argument("--header", metavar="NAME", default=env_value("RELAY_HEADER", DEFAULT_HEADER),
                       help="header naming the notification category (RELAY_HEADER; default %(default)s)")
    # Resolved only when serving: every contacts-relay command builds this
    # parser, and a host with slow DNS would make even 'log' wait.
    where.add_argument("--hostname", metavar="NAME", default=env_value("RELAY_HOSTNAME"),
                       help="this relay's name in the greeting and Received headers (RELAY_HOSTNAME; "
                            "default this host's fully qualified name)")

    inbound = parser.add_argument_group("who may send (never an open relay)")
    inbound.add_argument("--allow", metavar="CIDR", action="append", default=None,
                         help="network allowed to relay without AUTH; repeatable (RELAY_ALLOW, comma-separated; "
                              "default loopback only: 127.0.0.0/8 and ::1/128). Replaces the default; add "
                              "127.0.0.0/8 to keep loopback")
    inbound.add_argument("--auth-file", metavar="FILE", default=env_value("RELAY_AUTH_FILE"),
                         help="users allowed to relay after AUTH over TLS, as scrypt hashes written by "
                              "'contacts-relay passwd' (RELAY_AUTH_FILE). Read again when it changes, and on "
                              "SIGHUP: users added or removed count without a restart")
    inbound.add_argument("--tls-cert", metavar="FILE", default=env_value("RELAY_TLS_CERT"),
                         help="certificate chain (PEM) for STARTTLS (RELAY_TLS_CERT)")
    inbound.add_argument("--tls-key", metavar="FILE", default=env_value("RELAY_TLS_KEY"),
                         help="private key (PEM) for STARTTLS (RELAY_TLS_KEY)")
    _numeric(inbound, "--max-size", "MIB", float, "RELAY_MAX_SIZE", "25",
             "largest message accepted, in MiB; larger ones get 552")
    _numeric(inbound, "--max-received", "N", int, "RELAY_MAX_RECEIVED", "50",
             "more Received headers than this means a mail loop: 554")
    _numeric(inbound, "--max-recipients", "N", int, "RELAY_MAX_RECIPIENTS", "1000",
             "recipients per message; more get 452")
    _numeric(inbound, "--max-connections", "N", int, "RELAY_MAX_CONNECTIONS", "200",
             "simultaneous client connections; more get 421")

    upstream = parser.add_argument_group("the upstream server")
    upstream.add_argument("--upstream-tls", choices=("opportunistic", "starttls", "tls", "none"),
                          default=env_value("RELAY_UPSTREAM_TLS", "opportunistic"),
                          help="opportunistic: STARTTLS when offered, the certificate not checked (like Postfix's "
                               "'may': an unverified TLS session still beats plain text), but checked when "
                               "--upstream-user is set; starttls: required and verified; tls: implicit TLS (port 465), "
                               "verified; none: plain (RELAY_UPSTREAM_TLS; default %(default)s)")
    upstream.add_argument("--upstream-ca-file", metavar="FILE", default=env_value("RELAY_UPSTREAM_CA_FILE"),
                          help="CA certificates to verify the upstream with (RELAY_UPSTREAM_CA_FILE; "
                               "default: the system's)")
    upstream.add_argument("--upstream-no-verify", action="store_true", default=_env_flag("RELAY_UPSTREAM_NO_VERIFY"),
                          help="do not verify the upstream's certificate; for testing only "
                               "(RELAY_UPSTREAM_NO_VERIFY=1)")
    upstream.add_argument("--upstream-user", metavar="USER", default=env_value("RELAY_UPSTREAM_USER"),
                          help="AUTH user at the upstream (RELAY_UPSTREAM_USER); the password comes from "
                               "RELAY_UPSTREAM_PASSWORD_FILE or RELAY_UPSTREAM_PASSWORD, never the command line")
    upstream.add_argument("--upstream-password-file", metavar="FILE", default=env_value("RELAY_UPSTREAM_PASSWORD_FILE"),
                          help="file holding the upstream AUTH password (RELAY_UPSTREAM_PASSWORD_FILE)")
    _numeric(upstream, "--upstream-connections", "N", int, "RELAY_UPSTREAM_CONNECTIONS", "4",
             "parallel, reused connections to the upstream")

    retry = parser.add_argument_group("retries (like Postfix)")
    _numeric(retry, "--min-backoff", "SECONDS", float, "RELAY_MIN_BACKOFF", "300",
             "first retry after a 4xx or a connection failure")
    _numeric(retry, "--max-backoff", "SECONDS", float, "RELAY_MAX_BACKOFF", "4000",
             "longest wait between retries; the wait doubles up to it")
    _numeric(retry, "--max-lifetime", "SECONDS", float, "RELAY_MAX_LIFETIME", str(5 * 86400),
             "give up and bounce after this long in the queue", " = 5 days")


def config_from_args(args: argparse.Namespace) -> RelayConfig:
    """Check the options together and build the config; ConfigError says what is wrong."""
    listen_host, listen_port = host_port(args.listen, "--listen")
    upstream_host, upstream_port = None, 25
    if args.upstream:
        upstream_host, upstream_port = host_port(args.upstream, "--upstream", 25)
    elif not args.capture:
        raise ConfigError("give --upstream HOST:PORT (where to send mail) or --capture (store it for inspection)")
    if args.upstream and args.capture:
        # One may come from the environment and the other from the command
        # line; guessing which the user meant could send real mail.
        raise ConfigError("give either --upstream (RELAY_UPSTREAM) or --capture (RELAY_CAPTURE), not both")
    allow = tuple(args.allow) if args.allow else tuple((env_value("RELAY_ALLOW", ",".join(DEFAULT_ALLOW)) or "").split(","))
    if bool(args.tls_cert) != bool(args.tls_key):
        raise ConfigError("--tls-cert and --tls-key go together")
    if args.auth_file and not args.tls_cert:
        raise ConfigError("--auth-file needs --tls-cert/--tls-key: passwords are only accepted over TLS")
    password = None
    if args.upstream_password_file:
        try:
            password = Path(args.upstream_password_file).read_text(encoding="utf-8").strip("\r\n")
        except OSError as exc:
            raise ConfigError(f"--upstream-password-file {args.upstream_password_file}: {exc.strerror}") from None
    elif os.environ.get("RELAY_UPSTREAM_PASSWORD"):
        password = os.environ["RELAY_UPSTREAM_PASSWORD"]
    if password and not args.upstream_user:
        raise ConfigError("an upstream password is set but no --upstream-user")
    for name in ("max_received", "max_recipients", "max_connections", "upstream_connections", "capture_retention"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1")
    if args.max_size <= 0:
        raise ConfigError("--max-size must be more than 0")
    if args.log_retention < 0:
        raise ConfigError("--log-retention must be 0 (keep forever) or more days")
    if not (0 < args.min_backoff <= args.max_backoff) or args.max_lifetime <= 0:
        raise ConfigError("retries need 0 < --min-backoff <= --max-backoff and a positive --max-lifetime")
    return RelayConfig(
        listen_host=listen_host, listen_port=listen_port,
        upstream_host=upstream_host, upstream_port=upstream_port,
        capture=bool(args.capture), capture_retention=args.capture_retention,
        log_retention_days=args.log_retention,
        spool=Path(args.spool) if args.spool else None,
        category_header=args.header, hostname=args.hostname or socket.getfqdn(), allow=allow,
        auth_file=Path(args.auth_file) if args.auth_file else None,
        tls_cert=Path(args.tls_cert) if args.tls_cert else None,
        tls_key=Path(args.tls_key) if args.tls_key else None,
        max_size=int(args.max_size * MIB), max_received=args.max_received,
        max_recipients=args.max_recipients, max_connections=args.max_connections,
        upstream_tls=args.upstream_tls, upstream_verify=not args.upstream_no_verify,
        upstream_ca_file=args.upstream_ca_file, upstream_user=args.upstream_user, upstream_password=password,
        upstream_connections=args.upstream_connections,
        min_backoff=args.min_backoff, max_backoff=args.max_backoff, max_lifetime=args.max_lifetime,
    )
