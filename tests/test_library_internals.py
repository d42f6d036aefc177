"""Every private part of a library the project leans on, named in one place.

pyproject.toml pins aiosmtpd, Textual and textual-serve to the series these
were checked with; when a new release is let in, this test says in one
message which private parts it no longer has, and where the code uses each.
(random's private generator was one; chaos rules no longer use it.)
"""

from __future__ import annotations

import importlib
import inspect
from importlib.metadata import version

# (module, attribute path or None, what must be in its source or None, where and why we use it)
PRIVATE_PARTS = [
    # aiosmtpd: relay/server/protocol.py's RelaySMTP subclasses its SMTP.
    ("aiosmtpd.smtp", "SMTP._getaddr", None, "relay/server/protocol.py overrides it: a fast path for plain addresses"),
    ("aiosmtpd.smtp", "SMTP._authenticate", None, "relay/server/protocol.py overrides it: passwords off the loop"),
    ("aiosmtpd.smtp", "SMTP._call_handler_hook", None, "relay/server/protocol.py's smtp_DATA calls the DATA hook"),
    (
        "aiosmtpd.smtp",
        "SMTP._set_post_data_state",
        None,
        "relay/server/protocol.py's smtp_DATA ends DATA like aiosmtpd",
    ),
    ("aiosmtpd.smtp", "SMTP.smtp_MAIL.__smtp_syntax__", None, "relay/server/protocol.py re-decorates smtp_MAIL"),
    (
        "aiosmtpd.smtp",
        "SMTP.smtp_MAIL.__smtp_syntax_extended__",
        None,
        "relay/server/protocol.py re-decorates smtp_MAIL",
    ),
    ("aiosmtpd.smtp", "SMTP.smtp_MAIL.__smtp_syntax_when__", None, "relay/server/protocol.py re-decorates smtp_MAIL"),
    ("aiosmtpd.smtp", "SMTP", "self._smtp_methods", "relay/server/protocol.py counts junk commands in its table"),
    ("aiosmtpd.smtp", "SMTP", "self._reader", "relay/server/protocol.py reads DATA and its buffer from it"),
    ("aiosmtpd.smtp", "SMTP", "self._writer", "relay/server/protocol.py writes coalesced replies to it"),
    (
        "aiosmtpd.smtp",
        "SMTP",
        "self._original_transport",
        "relay/server/protocol.py tells STARTTLS from a new connection",
    ),
    (
        "aiosmtpd.smtp",
        "SMTP",
        "self._reader._buffer.clear()",
        "the STARTTLS fix of 1.4.6 (nothing sent before TLS is read after it); protocol.py's coalescing relies on it",
    ),
    (
        "aiosmtpd.smtp",
        None,
        "552 Error: Too much mail data",
        "relay/server/protocol.py rewrites this reply of aiosmtpd's",
    ),
    (
        "aiosmtpd.smtp",
        None,
        "552 Error: message size exceeds fixed maximum message ",
        "relay/server/protocol.py rewrites this reply of aiosmtpd's",
    ),
    ("aiosmtpd.smtp", None, "500 Line too long", "relay/server/protocol.py rewrites this reply of aiosmtpd's"),
    # asyncio, through aiosmtpd's reader.
    ("asyncio.streams", "StreamReader", "self._buffer", "relay/server/protocol.py and data.py read and refill it"),
    # Textual.
    ("textual.app", "App._broker_event", None, "ui/inert_text.py overrides it: a click on text never runs an action"),
    ("textual.dom", "DOMNode", "self._bindings", "ui/screens/base.py looks up the bindings of a key"),
    ("textual.binding", "BindingsMap", "self.key_to_bindings", "ui/screens/base.py looks up the bindings of a key"),
    ("textual.keys", "_character_to_key", None, "tests/ui/helpers.py names keys as Textual's driver does"),
    # A portal crash: one line for the customer (ui/portal/app.py).
    ("textual.app", "App._handle_exception", None, "ui/portal/app.py overrides it: a crash shows one line"),
    ("textual.app", "App.panic", "_exit_renderables", "ui/portal/app.py overrides it: a driver's crash too"),
    ("textual.app", "App._close_messages_no_wait", None, "ui/portal/app.py ends the app on a crash as Textual does"),
    ("textual.app", "App", "self._exit_renderables", "ui/portal/app.py shows its crash line through them"),
    ("textual.app", "App", "self._return_code", "ui/portal/app.py sets 1 on a crash"),
    ("textual.app", "App", "self._exception_event", "ui/portal/app.py keeps the exception for Pilot"),
    ("textual.app", "App", "self._driver", "ui/portal/app.py tells the web page why a session ends"),
    # textual-serve: ui/portal/web_server.py subclasses its Server.
    ("textual_serve.server", "Server._make_app", None, "ui/portal/web_server.py replaces the routes"),
    ("textual_serve.server", "Server.handle_websocket", None, "ui/portal/web_server.py wraps it (origin, sessions)"),
    ("textual_serve.server", "Server.on_shutdown", None, "ui/portal/web_server.py keeps it on its app"),
    ("textual_serve.server", "to_int", None, "ui/portal/web_server.py reads ?fontsize= as textual-serve does"),
    ("textual_serve.server", "Server", "self.console", "ui/portal/web_server.py prints where it serves"),
    ("textual_serve", None, None, "ui/portal/web_server.py serves the package's static/ folder"),
    # textual-serve: ui/portal/web_session.py subclasses its AppService.
    ("textual_serve.server", "Server._process_messages", None, "ui/portal/web_server.py replaces it (bounded sizes)"),
    ("textual_serve.app_service", "AppService._open_app_process", None, "ui/portal/web_session.py replaces it"),
    ("textual_serve.app_service", "AppService._build_environment", None, "ui/portal/web_session.py starts with it"),
    (
        "textual_serve.app_service",
        "AppService._build_environment",
        "os.environ",
        "ui/portal/web_session.py adds the browser's language to it (a forked session takes it as its own)",
    ),
    ("textual_serve.app_service", "AppService", "self._process", "ui/portal/web_session.py holds and ends it"),
    ("textual_serve.app_service", "AppService", "self._task", "ui/portal/web_session.py cancels its reader"),
    ("textual_serve.app_service", "AppService", "self._stdin", "ui/portal/web_session.py sets it on start"),
]
PARAMETERS = [
    ("textual_serve.server", "Server.__init__", ("statics_path", "templates_path"), "ui/portal/web_server.py"),
]
FILES = [("textual_serve", "static/js", "ui/portal/web_server.py serves textual-serve's own page scripts")]


def _resolve(module, path: str):
    value = module
    for part in path.split("."):
        value = getattr(value, part)
    return value


def _missing() -> list[str]:
    missing = []
    for module_name, path, text, why in PRIVATE_PARTS:
        module = importlib.import_module(module_name)
        try:
            owner = _resolve(module, path) if path else module
        except AttributeError:
            missing.append(f"{module_name}.{path} is gone ({why})")
            continue
        if text is not None and text not in inspect.getsource(owner):
            missing.append(f"{module_name}.{path or ''} no longer has {text!r} ({why})")
    for module_name, path, names, why in PARAMETERS:
        signature = inspect.signature(_resolve(importlib.import_module(module_name), path))
        missing += [
            f"{module_name}.{path} takes no {name}= ({why})" for name in names if name not in signature.parameters
        ]
    for package, folder, why in FILES:
        from importlib import resources

        if not (resources.files(package) / folder).is_dir():
            missing.append(f"{package} ships no {folder}/ ({why})")
    return missing


def test_every_private_part_we_use_is_still_there():
    missing = _missing()
    versions = ", ".join(f"{name} {version(name)}" for name in ("aiosmtpd", "textual", "textual-serve"))
    assert not missing, (
        f"With {versions}, {len(missing)} private part(s) the project relies on changed; check each use, "
        "then widen the pin in pyproject.toml:\n  " + "\n  ".join(missing)
    )


def test_a_missing_part_is_named_with_where_we_use_it(monkeypatch):
    # The check itself must be able to fail: take one part away.
    import aiosmtpd.smtp

    monkeypatch.delattr(aiosmtpd.smtp.SMTP, "_getaddr")
    assert _missing() == [
        "aiosmtpd.smtp.SMTP._getaddr is gone (relay/server/protocol.py overrides it: a fast path for plain addresses)"
    ]
