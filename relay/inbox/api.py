"""The routes of Mailpit's API v1 that a capture relay has, and ours beside them.

Read, mark read, delete, and the chaos triggers; never send: a message
reaches the relay over SMTP or not at all, and is sent on only by
``contacts-relay messages release``, which logs it. Routes of Mailpit's
API that make no sense here answer 501 and say why (see ``UNSUPPORTED``).
IDs are the captured messages' ids, as text; ``latest`` names the newest
(of a ``query`` where one is given).
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import time
from importlib import metadata
from typing import Any
from urllib.parse import quote

from aiohttp import web

from contacts_tui.core.mail import chaos as chaos_rules
from contacts_tui.core.mail import inbox, relay_log
from contacts_tui.core.mail.parts import body_of, parse
from contacts_tui.core.mail.query import zone_named
from contacts_tui.core.mail.view import header_rows

from . import shapes
from .chaos import ChaosRequestError, set_triggers, triggers_json
from .events import Events
from .frame import frame_policy, framed_html

# Mailpit's API routes this relay does not serve, and why.
UNSUPPORTED = {
    ("POST", "/api/v1/send"): "mail reaches a capture relay over SMTP, so that it is rewritten as it would be",
    ("POST", "/api/v1/message/{id}/release"): (
        "the API only reads and deletes; 'contacts-relay messages release ID --to HOST:PORT' sends a message on "
        "and logs it"
    ),
    ("PUT", "/api/v1/tags"): "a message's one tag is its notification category, set by its header or a tagging rule",
    ("PUT", "/api/v1/tags/{tag}"): "categories are renamed in the catalog, not in captured mail",
    ("DELETE", "/api/v1/tags/{tag}"): "categories are removed from the catalog, not from captured mail",
    ("GET", "/api/v1/message/{id}/html-check"): "no HTML compatibility check here",
    ("GET", "/api/v1/message/{id}/link-check"): "the inbox makes no requests to other hosts",
    ("GET", "/api/v1/message/{id}/sa-check"): "no SpamAssassin here",
    ("GET", "/api/v1/message/{id}/part/{part}/thumb"): "no thumbnails: open the part itself",
}
# Parts are files from mail: shown in a tab of their own, they run nothing in this origin.
PART_POLICY = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'none'"


def _text(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/plain")


def _json(data: Any) -> web.Response:
    return web.Response(text=json.dumps(data, ensure_ascii=False), content_type="application/json", charset="utf-8")


def _number(text: str | None, default: int) -> int:
    try:
        return int(text) if text not in (None, "") else default
    except ValueError:
        return default


class Api:
    def __init__(self, run, events: Events, database: str) -> None:
        self._run = run
        self.events = events
        self.database = database
        self.started = time.monotonic()
        self.started_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        self.deleted = 0
        self.version = events.version

    def routes(self) -> list[web.RouteDef]:
        message = "/api/v1/message/{id}"
        found = [
            web.get("/api/v1/info", self.info),
            web.get("/api/v1/webui", self.webui),
            web.get("/api/v1/messages", self.messages),
            web.put("/api/v1/messages", self.set_read),
            web.delete("/api/v1/messages", self.delete_messages),
            web.get("/api/v1/search", self.search),
            web.delete("/api/v1/search", self.delete_search),
            web.get("/api/v1/tags", self.tags),
            web.get("/api/v1/chaos", self.chaos),
            web.put("/api/v1/chaos", self.set_chaos),
            web.get(message, self.message),
            web.get(message + "/headers", self.headers),
            web.get(message + "/raw", self.raw),
            web.get(message + "/original", self.original),
            web.get(message + "/changes", self.changes),
            web.get(message + "/part/{part}", self.part),
            web.get("/view/{id}.html", self.view_html),
            web.get("/view/{id}.txt", self.view_text),
            web.get("/api/events", self.events.handle),
        ]
        for (method, path), why in UNSUPPORTED.items():
            found.append(web.route(method, path, self._unsupported(why)))
        return found

    @staticmethod
    def _unsupported(why: str):
        async def answer(request: web.Request) -> web.Response:
            return _text(f"not on a capture relay: {why}\n", 501)

        return answer

    # -- looking messages up -------------------------------------------------

    async def _id(self, request: web.Request) -> int:
        text = request.match_info["id"]
        if text == "latest":
            found = await self._run(inbox.latest_id, request.query.get("query", "").strip(), self._zone(request))
            if found is None:
                raise web.HTTPNotFound(text="no message found\n")
            return found
        if not text.isdigit():
            raise web.HTTPNotFound(text=f"there is no message {text}\n")
        return int(text)

    async def _load(self, request: web.Request) -> tuple[inbox.InboxMessage, bytes, bytes]:
        message_id = await self._id(request)
        found = await self._run(inbox.message, message_id)
        if found is None:
            raise web.HTTPNotFound(text=f"there is no message {message_id} (deleted, or dropped by retention)\n")
        return found

    @staticmethod
    def _zone(request: web.Request):
        return zone_named(request.query.get("tz"))

    # -- Mailpit's routes ----------------------------------------------------

    async def info(self, request: web.Request) -> web.Response:
        totals = await self._run(inbox.totals)
        accepted, size = await self._run(inbox.captured_since, self.started_at)
        return _json(
            {
                "Version": self.version,
                "LatestVersion": "",
                "Database": self.database,
                "DatabaseSize": 0,
                "Messages": totals.total,
                "Unread": totals.unread,
                "Tags": totals.categories,
                "RuntimeStats": {
                    "Uptime": int(time.monotonic() - self.started),
                    "Memory": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                    "MessagesDeleted": self.deleted,
                    "SMTPAccepted": accepted,
                    "SMTPAcceptedSize": size,
                    "SMTPRejected": 0,
                    "SMTPIgnored": 0,
                },
            }
        )

    async def webui(self, request: web.Request) -> web.Response:
        return _json(
            {
                "Label": "contacts-relay",
                "MessageRelay": {
                    "Enabled": False,
                    "SMTPServer": "",
                    "ReturnPath": "",
                    "AllowedRecipients": "",
                    "BlockedRecipients": "",
                    "OverrideFrom": "",
                    "PreserveMessageIDs": False,
                    "RecipientAllowlist": "",
                },
                "SpamAssassin": False,
                "ChaosEnabled": True,
                "DuplicatesIgnored": False,
                "HideDeleteAllButton": False,
            }
        )

    async def _listing(self, request: web.Request, search: str) -> web.Response:
        start = max(0, _number(request.query.get("start"), 0))
        limit = _number(request.query.get("limit"), 50)
        limit = 50 if limit < 0 else limit
        page = await self._run(inbox.page, search, start, limit, self._zone(request))
        totals = await self._run(inbox.totals)
        return _json(
            {
                "total": totals.total,
                "unread": totals.unread,
                "count": len(page.messages),
                "messages_count": page.matching,
                "messages_unread": page.unread,
                "start": start,
                "tags": sorted(totals.categories),
                "messages": [shapes.summary_json(m) for m in page.messages],
            }
        )

    async def messages(self, request: web.Request) -> web.Response:
        return await self._listing(request, "")

    async def search(self, request: web.Request) -> web.Response:
        query = request.query.get("query", "").strip()
        if not query:
            return _text("Error: no search query", 400)
        return await self._listing(request, query)

    async def set_read(self, request: web.Request) -> web.Response:
        body = await _body(request)
        ids, search = _ids(body), str(_field(body, "search") or "").strip()
        if ids and search:
            return _text("You may specify either IDs or a search query, not both", 400)
        read = bool(_field(body, "read"))
        changed = await self._run(inbox.set_read, read, ids or None, search, self._zone(request))
        for message_id in changed:
            await self.events.send("update", {"ID": str(message_id), "Read": read})
        await self.events.changed()
        return _text("ok")

    async def delete_messages(self, request: web.Request) -> web.Response:
        body = await _body(request)
        ids = _ids(body)
        gone = await self._run(inbox.delete, ids or None, "")
        await self._deleted(gone, everything=not ids)
        return _text("ok")

    async def delete_search(self, request: web.Request) -> web.Response:
        query = request.query.get("query", "").strip()
        if not query:
            return _text("Error: no search query", 400)
        gone = await self._run(inbox.delete, None, query, self._zone(request))
        await self._deleted(gone)
        return _text("ok")

    async def _deleted(self, gone: list[int], everything: bool = False) -> None:
        self.deleted += len(gone)
        if everything:
            await self.events.send("truncate", None)
        else:
            for message_id in gone:
                await self.events.send("delete", {"ID": str(message_id)})
        await self.events.changed(len(gone))

    async def tags(self, request: web.Request) -> web.Response:
        return _json(sorted((await self._run(inbox.totals)).categories))

    async def chaos(self, request: web.Request) -> web.Response:
        return _json(triggers_json(await self._run(chaos_rules.current_rules)))

    async def set_chaos(self, request: web.Request) -> web.Response:
        body = await _body(request, default={})
        try:
            rules = await self._run(set_triggers, body)
        except ChaosRequestError as exc:
            return _text(str(exc), 400)
        return _json(triggers_json(rules))

    async def message(self, request: web.Request) -> web.Response:
        found, _original, rewritten = await self._load(request)
        parsed = parse(rewritten)
        shown = shapes.message_json(found, parsed, body_of(parsed))
        # Opening a message marks it read, as in Mailpit.
        if await self._run(inbox.set_read, True, [found.record.id]):
            await self.events.send("update", {"ID": str(found.record.id), "Read": True})
            await self.events.changed()
        return _json(shown)

    async def headers(self, request: web.Request) -> web.Response:
        _found, _original, rewritten = await self._load(request)
        return _json(shapes.headers_json(rewritten))

    async def raw(self, request: web.Request) -> web.Response:
        found, _original, rewritten = await self._load(request)
        return self._source(request, rewritten, f"{found.record.id}.eml")

    async def original(self, request: web.Request) -> web.Response:
        found, original, _rewritten = await self._load(request)
        return self._source(request, original, f"{found.record.id}-original.eml")

    @staticmethod
    def _source(request: web.Request, data: bytes, name: str) -> web.Response:
        response = web.Response(body=data, content_type="text/plain", charset="utf-8")
        response.headers["Content-Security-Policy"] = PART_POLICY
        if request.query.get("dl") == "1":
            response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    async def changes(self, request: web.Request) -> web.Response:
        found, original, rewritten = await self._load(request)
        record = found.record
        entry = await self._run(relay_log.log_entry, record.log_id) if record.log_id else None
        return _json(
            {
                "ID": str(record.id),
                "Headers": [{"Before": before, "After": after} for before, after in header_rows(original, rewritten)],
                "Decision": str(entry.decision) if entry else "",
                "Reason": entry.reason if entry else "",
                **shapes.ours(found),
            }
        )

    async def part(self, request: web.Request) -> web.Response:
        found, _original, rewritten = await self._load(request)
        body = body_of(parse(rewritten))
        part = body.part(request.match_info["part"])
        if part is None:
            raise web.HTTPNotFound(text=f"message {found.record.id} has no part {request.match_info['part']}\n")
        response = web.Response(body=part.content())
        response.content_type = part.content_type
        how = "attachment" if request.query.get("download") == "1" else "inline"
        response.headers["Content-Disposition"] = f"{how}; filename*=UTF-8''{quote(part.filename, safe='')}"
        response.headers["Content-Security-Policy"] = PART_POLICY
        # The message's HTML shows its inline images from a sandboxed frame, an origin of its own.
        response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
        return response

    async def view_html(self, request: web.Request) -> web.Response:
        found, _original, rewritten = await self._load(request)
        body = body_of(parse(rewritten))
        if not body.html:
            return _text("This message does not contain a HTML part", 404)
        response = web.Response(text=framed_html(body, found.record.id), content_type="text/html", charset="utf-8")
        response.headers["Content-Security-Policy"] = frame_policy(request.query.get("remote") == "1")
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        return response

    async def view_text(self, request: web.Request) -> web.Response:
        _found, _original, rewritten = await self._load(request)
        response = _text(body_of(parse(rewritten)).text)
        response.headers["Content-Security-Policy"] = PART_POLICY
        return response


async def _body(request: web.Request, default: Any = None) -> Any:
    """A request's JSON body; a form (as some clients send) as a dict; ``default`` when empty."""
    raw = await request.read()
    if not raw.strip():
        return default if default is not None else {}
    if request.content_type == "application/x-www-form-urlencoded":
        form = await request.post()
        return {key: form.getall(key) for key in form}
    try:
        return json.loads(raw)
    except ValueError:
        raise web.HTTPBadRequest(text="the body is not JSON\n") from None


def _field(body: Any, name: str) -> Any:
    # Go matches JSON field names to Mailpit's without regard to case.
    if not isinstance(body, dict):
        return None
    return next((value for key, value in body.items() if str(key).lower() == name), None)


def _ids(body: Any) -> list[int]:
    value = _field(body, "ids") or []
    if isinstance(value, str | int):
        value = [value]
    if not isinstance(value, list):
        raise web.HTTPBadRequest(text="IDs must be a list of message ids\n")
    ids = []
    for item in value:
        text = str(item).strip()
        if not text.isdigit():
            raise web.HTTPBadRequest(text=f"{text!r} is not a message id\n")
        ids.append(int(text))
    return ids


def version() -> str:
    try:
        return metadata.version("contact-persons")
    except metadata.PackageNotFoundError:
        return "0"
