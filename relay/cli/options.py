"""Relay options: the command line with RELAY_* environment defaults, read into a ``RelayConfig``.

Secrets (the upstream password) come only from a file or the environment,
never from the command line, and never appear in a repr or a log line.
"""

from __future__ import annotations

import argparse
import os
import socket
from pathlib import Path

from ..config import DEFAULT_LISTEN, MIB, ConfigError, RelayConfig, default, host_port
from ..delivery.rate import Rate
from ..inbox.access import is_loopback


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


def _text(value: float) -> str:
    """A default as the option takes it: 300, not 300.0."""
    return f"{value:g}"


def _numeric(group, flag: str, metavar: str, convert: type, env: str, default: str, text: str, note: str = "") -> None:
    group.add_argument(
        flag,
        metavar=metavar,
        type=_number(convert, env),
        default=env_value(env, default),
        help=f"{text} ({env}; default %(default)s{note})",
    )


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
    where.add_argument(
        "--listen",
        metavar="HOST:PORT",
        default=env_value("RELAY_LISTEN", DEFAULT_LISTEN),
        help="address to accept mail on (RELAY_LISTEN; default %(default)s)",
    )
    mode = where.add_mutually_exclusive_group()
    mode.add_argument(
        "--upstream",
        metavar="HOST:PORT",
        action="append",
        default=None,
        help="the real mail server to pass mail on to (port 25 if left out). Repeat it, or give a comma "
        "list, for fallbacks tried in order: what one defers or cannot take goes to the next, a 5xx is "
        "final (RELAY_UPSTREAM, comma-separated)",
    )
    mode.add_argument(
        "--capture",
        action="store_true",
        default=_env_flag("RELAY_CAPTURE"),
        help="store rewritten messages for inspection instead of sending them (RELAY_CAPTURE=1)",
    )
    where.add_argument(
        "--chaos",
        metavar="FILE",
        default=env_value("RELAY_CHAOS"),
        help="with --capture: chaos rules (TOML, [[rule]] tables) that make the relay answer chosen "
        "SMTP errors for matching mail; they replace the rules set before. Change them while "
        "it runs with 'contacts-relay chaos' (RELAY_CHAOS)",
    )
    _numeric(
        where,
        "--capture-retention",
        "N",
        int,
        "RELAY_CAPTURE_RETENTION",
        _text(default("capture_retention")),
        "captured messages to keep, oldest dropped first",
    )
    _numeric(
        where,
        "--log-retention",
        "DAYS",
        float,
        "RELAY_LOG_RETENTION",
        _text(default("log_retention_days")),
        "relay log entries older than this are deleted; 0 keeps them forever",
    )
    _numeric(
        where,
        "--workers",
        "N",
        int,
        "RELAY_WORKERS",
        str(os.cpu_count() or 1),
        "relay processes, each on its own core and with its own spool under --spool; 1 runs a single process",
        " = the number of cores",
    )
    where.add_argument(
        "--spool",
        metavar="DIR",
        default=env_value("RELAY_SPOOL"),
        help="durable queue directory (RELAY_SPOOL; default in the user data directory)",
    )
    where.add_argument(
        "--header",
        metavar="NAME",
        default=env_value("RELAY_HEADER", default("category_header")),
        help="header naming the notification category (RELAY_HEADER; default %(default)s)",
    )
    # Resolved only when serving: every contacts-relay command builds this
    # parser, and a host with slow DNS would make even 'log' wait.
    where.add_argument(
        "--hostname",
        metavar="NAME",
        default=env_value("RELAY_HOSTNAME"),
        help="this relay's name in the greeting and Received headers (RELAY_HOSTNAME; "
        "default this host's fully qualified name)",
    )

    inbound = parser.add_argument_group("who may send (never an open relay)")
    inbound.add_argument(
        "--allow",
        metavar="CIDR",
        action="append",
        default=None,
        help="network allowed to relay without AUTH; repeatable (RELAY_ALLOW, comma-separated; "
        "default loopback only: 127.0.0.0/8 and ::1/128). Replaces the default; add "
        "127.0.0.0/8 to keep loopback",
    )
    inbound.add_argument(
        "--auth-file",
        metavar="FILE",
        default=env_value("RELAY_AUTH_FILE"),
        help="users allowed to relay after AUTH over TLS, as scrypt hashes written by "
        "'contacts-relay passwd' (RELAY_AUTH_FILE). Read again when it changes, and on "
        "SIGHUP: users added or removed count without a restart",
    )
    inbound.add_argument(
        "--tls-cert",
        metavar="FILE",
        default=env_value("RELAY_TLS_CERT"),
        help="certificate chain (PEM) for STARTTLS (RELAY_TLS_CERT)",
    )
    inbound.add_argument(
        "--tls-key",
        metavar="FILE",
        default=env_value("RELAY_TLS_KEY"),
        help="private key (PEM) for STARTTLS (RELAY_TLS_KEY)",
    )
    _numeric(
        inbound,
        "--max-size",
        "MIB",
        float,
        "RELAY_MAX_SIZE",
        _text(default("max_size") / MIB),
        "largest message accepted, in MiB; larger ones get 552",
    )
    _numeric(
        inbound,
        "--max-received",
        "N",
        int,
        "RELAY_MAX_RECEIVED",
        _text(default("max_received")),
        "more Received headers than this means a mail loop: 554",
    )
    _numeric(
        inbound,
        "--max-recipients",
        "N",
        int,
        "RELAY_MAX_RECIPIENTS",
        _text(default("max_recipients")),
        "recipients per message; more get 452",
    )
    _numeric(
        inbound,
        "--max-connections",
        "N",
        int,
        "RELAY_MAX_CONNECTIONS",
        _text(default("max_connections")),
        "simultaneous client connections; more get 421",
    )
    _numeric(
        inbound,
        "--max-client-connections",
        "N",
        int,
        "RELAY_MAX_CLIENT_CONNECTIONS",
        _text(default("max_client_connections")),
        "simultaneous connections from one address outside --allow (those together get at most half "
        "of --max-connections)",
    )

    upstream = parser.add_argument_group("the upstream server")
    upstream.add_argument(
        "--upstream-tls",
        choices=("opportunistic", "starttls", "tls", "none"),
        default=env_value("RELAY_UPSTREAM_TLS", "opportunistic"),
        help="opportunistic: STARTTLS when offered, the certificate not checked (like Postfix's "
        "'may': an unverified TLS session still beats plain text), but checked when "
        "--upstream-user is set; starttls: required and verified; tls: implicit TLS (port 465), "
        "verified; none: plain (RELAY_UPSTREAM_TLS; default %(default)s)",
    )
    upstream.add_argument(
        "--upstream-ca-file",
        metavar="FILE",
        default=env_value("RELAY_UPSTREAM_CA_FILE"),
        help="CA certificates to verify the upstream with (RELAY_UPSTREAM_CA_FILE; default: the system's)",
    )
    upstream.add_argument(
        "--upstream-no-verify",
        action="store_true",
        default=_env_flag("RELAY_UPSTREAM_NO_VERIFY"),
        help="do not verify the upstream's certificate; for testing only (RELAY_UPSTREAM_NO_VERIFY=1)",
    )
    upstream.add_argument(
        "--upstream-user",
        metavar="USER",
        default=env_value("RELAY_UPSTREAM_USER"),
        help="AUTH user at the upstream (RELAY_UPSTREAM_USER); the password comes from "
        "RELAY_UPSTREAM_PASSWORD_FILE or RELAY_UPSTREAM_PASSWORD, never the command line",
    )
    upstream.add_argument(
        "--upstream-password-file",
        metavar="FILE",
        default=env_value("RELAY_UPSTREAM_PASSWORD_FILE"),
        help="file holding the upstream AUTH password (RELAY_UPSTREAM_PASSWORD_FILE)",
    )
    upstream.add_argument(
        "--upstream-rate",
        metavar="N/s",
        default=env_value("RELAY_UPSTREAM_RATE"),
        help="at most N recipients a second (N/min, N/h) to each upstream, as Amazon SES counts; mail "
        "waits in the spool for its turn (RELAY_UPSTREAM_RATE; default no limit)",
    )
    _numeric(
        upstream,
        "--upstream-connections",
        "N",
        int,
        "RELAY_UPSTREAM_CONNECTIONS",
        _text(default("upstream_connections")),
        "parallel, reused connections to the upstream",
    )

    operate = parser.add_argument_group("running it")
    operate.add_argument(
        "--metrics",
        metavar="HOST:PORT",
        default=env_value("RELAY_METRICS"),
        help="serve Prometheus metrics on /metrics and a health check on /healthz (RELAY_METRICS; default off)",
    )
    _numeric(
        operate,
        "--queue-age-alert",
        "SECONDS",
        float,
        "RELAY_QUEUE_AGE_ALERT",
        _text(default("queue_age_alert")),
        "/healthz and check say 'degraded' while a message has waited longer than this",
        " = 15 minutes",
    )
    _numeric(
        operate,
        "--failure-alert",
        "N",
        int,
        "RELAY_FAILURE_ALERT",
        _text(default("failure_alert")),
        "/healthz and check say 'degraded' when the last N delivery attempts all failed",
    )
    operate.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=env_value("RELAY_LOG_FORMAT", "text"),
        help="text for people, json for log shippers: one object per line (RELAY_LOG_FORMAT; default %(default)s)",
    )

    web = parser.add_argument_group("web inbox and Mailpit-compatible API (with --capture)")
    web.add_argument(
        "--http",
        metavar="HOST:PORT",
        default=env_value("RELAY_HTTP"),
        help="serve the captured messages: a web inbox on / and Mailpit's API on /api/v1 (RELAY_HTTP; "
        "default off). Anywhere but loopback it needs --http-auth or --http-no-auth",
    )
    web.add_argument(
        "--http-auth",
        metavar="FILE",
        default=env_value("RELAY_HTTP_AUTH"),
        help="users the inbox asks for (basic auth), as hashes: lines from 'contacts-relay passwd' or "
        "'htpasswd -B' (bcrypt); read again when it changes (RELAY_HTTP_AUTH)",
    )
    web.add_argument(
        "--http-no-auth",
        action="store_true",
        default=_env_flag("RELAY_HTTP_NO_AUTH"),
        help="serve the inbox beyond loopback without users: whoever reaches it reads and deletes the "
        "captured mail (RELAY_HTTP_NO_AUTH=1)",
    )
    web.add_argument(
        "--http-name",
        metavar="NAME",
        action="append",
        default=None,
        help="a host name the inbox is reached by (behind a proxy, say); repeatable. It answers to IP "
        "addresses, localhost and the name it listens on; other names are refused (DNS rebinding) "
        "(RELAY_HTTP_NAME, comma-separated)",
    )

    retry = parser.add_argument_group("retries (like Postfix)")
    _numeric(
        retry,
        "--min-backoff",
        "SECONDS",
        float,
        "RELAY_MIN_BACKOFF",
        _text(default("min_backoff")),
        "first retry after a 4xx or a connection failure",
    )
    _numeric(
        retry,
        "--max-backoff",
        "SECONDS",
        float,
        "RELAY_MAX_BACKOFF",
        _text(default("max_backoff")),
        "longest wait between retries; the wait doubles up to it",
    )
    _numeric(
        retry,
        "--max-lifetime",
        "SECONDS",
        float,
        "RELAY_MAX_LIFETIME",
        _text(default("max_lifetime")),
        "give up and bounce after this long in the queue",
        " = 5 days",
    )


def upstreams_from(given: list[str] | None) -> tuple[tuple[str, int], ...]:
    """The upstreams in order: each --upstream (or else RELAY_UPSTREAM), comma lists split."""
    values = given if given else [env_value("RELAY_UPSTREAM", "") or ""]
    found: list[tuple[str, int]] = []
    for value in values:
        for part in value.split(","):
            if part.strip():
                upstream = host_port(part, "--upstream", 25)
                if upstream in found:
                    raise ConfigError(f"--upstream {part.strip()} is given twice")
                found.append(upstream)
    return tuple(found)


def config_from_args(args: argparse.Namespace) -> RelayConfig:
    """Check the options together and build the config; ConfigError says what is wrong."""
    listen_host, listen_port = host_port(args.listen, "--listen")
    metrics_host, metrics_port = host_port(args.metrics, "--metrics") if args.metrics else (None, 0)
    upstreams = upstreams_from(args.upstream)
    if not upstreams and not args.capture:
        raise ConfigError("give --upstream HOST:PORT (where to send mail) or --capture (store it for inspection)")
    if args.chaos and not args.capture:
        raise ConfigError("--chaos makes a capture relay fail on purpose: it needs --capture")
    if args.chaos:
        from contacts_tui.core.errors import ValidationError
        from contacts_tui.core.mail.chaos import rules_from_file

        try:
            rules_from_file(args.chaos)  # checked now: a mistake stops the start, not the first message
        except ValidationError as exc:
            raise ConfigError(f"--chaos {exc}") from None
    http_host, http_port = host_port(args.http, "--http") if args.http else (None, 0)
    if args.http and not args.capture:
        raise ConfigError(
            "--http serves the captured messages of a capture relay: it needs --capture "
            "(a relay that delivers mail has no inbox)"
        )
    if args.http_auth and args.http_no_auth:
        raise ConfigError("give --http-auth FILE or --http-no-auth, not both")
    if http_host is not None and not (args.http_auth or args.http_no_auth or is_loopback(http_host)):
        raise ConfigError(
            f"--http {args.http} lets others on the network read and delete the captured mail: give "
            "--http-auth FILE (users with hashed passwords, from 'contacts-relay passwd' or 'htpasswd -B') "
            "or --http-no-auth, or listen on loopback (127.0.0.1)"
        )
    http_auth = Path(args.http_auth) if args.http_auth else None
    if http_auth is not None:
        from ..server.access import AccessConfigError, AuthFile

        try:
            if not AuthFile.load(http_auth).users:
                raise ConfigError(f"--http-auth {http_auth} has no users: add one with contacts-relay passwd")
        except AccessConfigError as exc:
            raise ConfigError(f"--http-auth: {exc}") from None
    names = args.http_name or (env_value("RELAY_HTTP_NAME", "") or "").split(",")
    if upstreams and args.capture:
        # One may come from the environment and the other from the command
        # line; guessing which the user meant could send real mail.
        raise ConfigError("give either --upstream (RELAY_UPSTREAM) or --capture (RELAY_CAPTURE), not both")
    allow = (
        tuple(args.allow)
        if args.allow
        else tuple((env_value("RELAY_ALLOW", ",".join(default("allow"))) or "").split(","))
    )
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
    for name in (
        "workers",
        "max_received",
        "max_recipients",
        "max_connections",
        "max_client_connections",
        "upstream_connections",
        "capture_retention",
        "failure_alert",
    ):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1")
    if args.queue_age_alert <= 0:
        raise ConfigError("--queue-age-alert must be more than 0 seconds")
    rate = None
    if args.upstream_rate:
        try:
            rate = Rate.parse(args.upstream_rate)
        except ValueError as exc:
            raise ConfigError(f"--upstream-rate {exc}") from None
    if args.max_size <= 0:
        raise ConfigError("--max-size must be more than 0")
    if args.log_retention < 0:
        raise ConfigError("--log-retention must be 0 (keep forever) or more days")
    if not (0 < args.min_backoff <= args.max_backoff) or args.max_lifetime <= 0:
        raise ConfigError("retries need 0 < --min-backoff <= --max-backoff and a positive --max-lifetime")
    return RelayConfig(
        listen_host=listen_host,
        listen_port=listen_port,
        upstreams=upstreams,
        capture=bool(args.capture),
        capture_retention=args.capture_retention,
        log_retention_days=args.log_retention,
        spool=Path(args.spool) if args.spool else None,
        category_header=args.header,
        hostname=args.hostname or socket.getfqdn(),
        allow=allow,
        auth_file=Path(args.auth_file) if args.auth_file else None,
        tls_cert=Path(args.tls_cert) if args.tls_cert else None,
        tls_key=Path(args.tls_key) if args.tls_key else None,
        max_size=int(args.max_size * MIB),
        max_received=args.max_received,
        max_recipients=args.max_recipients,
        max_connections=args.max_connections,
        max_client_connections=args.max_client_connections,
        workers=args.workers,
        metrics_host=metrics_host,
        metrics_port=metrics_port,
        log_format=args.log_format,
        chaos=Path(args.chaos) if args.chaos else None,
        http_host=http_host,
        http_port=http_port,
        http_auth=http_auth,
        http_names=tuple(n.strip() for n in names if n.strip()),
        upstream_tls=args.upstream_tls,
        upstream_verify=not args.upstream_no_verify,
        upstream_ca_file=args.upstream_ca_file,
        upstream_user=args.upstream_user,
        upstream_password=password,
        upstream_connections=args.upstream_connections,
        upstream_rate=rate,
        queue_age_alert=args.queue_age_alert,
        failure_alert=args.failure_alert,
        min_backoff=args.min_backoff,
        max_backoff=args.max_backoff,
        max_lifetime=args.max_lifetime,
    )
