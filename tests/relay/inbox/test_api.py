"""The Mailpit-compatible API of a capture relay, over real HTTP: the shapes
Mailpit's clients read, search words, read flags, deletes, chaos triggers,
live events, and what the API refuses. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import json

import aiohttp
import pytest

from contacts_tui.core.mail import relay_log

from ...waiting import wait_until
from ..helpers import ACME, ACME_BILLING, BETA, SENDER, send
from .conftest import PDF, invoice


async def capture(relay, *messages: tuple[str, bytes]) -> None:
    for recipient, data in messages:
        answer = await send(relay.port, [recipient], data)
        assert answer.code == 250, answer


async def test_a_list_has_mailpits_fields_and_ours(inbox_relay, http):
    await capture(inbox_relay, (ACME, invoice()), (BETA, invoice("Reminder R-7", to=BETA, category="payment.reminder")))
    async with http.get("/api/v1/messages") as response:
        assert response.status == 200 and response.content_type == "application/json"
        listing = await response.json()
    assert {k: listing[k] for k in ("total", "unread", "count", "messages_count", "messages_unread", "start")} == {
        "total": 2,
        "unread": 2,
        "count": 2,
        "messages_count": 2,
        "messages_unread": 2,
        "start": 0,
    }
    assert listing["tags"] == ["billing"]
    newest, oldest = listing["messages"]
    assert newest["Subject"] == "Reminder R-7" and oldest["Subject"] == "Invoice INV-42"
    assert set(oldest) >= {"ID", "MessageID", "Read", "From", "To", "Cc", "Bcc", "ReplyTo", "Subject", "Created"}
    assert set(oldest) >= {"Username", "Tags", "Size", "Attachments", "Snippet"}
    assert oldest["MessageID"] == "Invoice-INV-42@shop.example"
    assert oldest["From"] == {"Name": "Shop Billing", "Address": SENDER}
    assert oldest["To"] == [{"Name": "", "Address": ACME}]
    assert sorted(a["Address"] for a in oldest["Cc"]) == sorted(ACME_BILLING)
    assert oldest["Read"] is False and oldest["Attachments"] == 1 and oldest["Tags"] == ["billing"]
    assert oldest["Snippet"].startswith("Invoice INV-42 Dear customer, your invoice is attached.")
    assert oldest["Created"].endswith("Z") and isinstance(oldest["Size"], int) and isinstance(oldest["ID"], str)
    # Ours: who was added, for which customer, and why.
    bookkeeper = next(p for p in oldest["ContactPersons"] if p["Email"] == "books@acme.example")
    assert bookkeeper == {
        "Email": "books@acme.example",
        "Name": "Jörg Buchhalter",
        "Customer": ACME,
        "Reason": "opted in to billing",
        "Address": "books@acme.example",
    }
    assert oldest["Category"] == "invoice.created" and oldest["CategoryKey"] == "billing"
    assert oldest["Envelope"]["From"] == SENDER and ACME in oldest["Envelope"]["To"]
    async with http.get("/api/v1/messages", params={"start": "1", "limit": "1"}) as response:
        page = await response.json()
    assert [m["Subject"] for m in page["messages"]] == ["Invoice INV-42"] and page["start"] == 1


async def test_a_message_its_headers_raw_source_original_and_parts(inbox_relay, http):
    data = invoice()
    await capture(inbox_relay, (ACME, data))
    async with http.get("/api/v1/message/latest") as response:
        message = await response.json()
    assert message["Subject"] == "Invoice INV-42" and message["ReturnPath"] == SENDER
    assert message["Text"].startswith("Dear customer") and "<b>invoice</b>" in message["HTML"]
    assert message["Date"] and message["ListUnsubscribe"] == {"Header": "", "Links": [], "Errors": "", "HeaderPost": ""}
    (pdf,) = message["Attachments"]
    assert (pdf["FileName"], pdf["ContentType"], pdf["Size"]) == ("INV-42.pdf", "application/pdf", len(PDF))
    assert pdf["Checksums"]["SHA256"] == hashlib.sha256(PDF).hexdigest()
    (logo,) = message["Inline"]
    assert logo["ContentID"] == "logo@shop"
    # Opening it marked it read, as in Mailpit.
    async with http.get("/api/v1/messages") as response:
        assert (await response.json())["unread"] == 0
    async with http.get(f"/api/v1/message/{message['ID']}/part/{pdf['PartID']}") as response:
        assert response.content_type == "application/pdf" and await response.read() == PDF
        assert response.headers["Content-Disposition"] == "inline; filename*=UTF-8''INV-42.pdf"
        assert response.headers["Content-Security-Policy"].startswith("sandbox")
    async with http.get(f"/api/v1/message/{message['ID']}/headers") as response:
        headers = await response.json()
    assert list(headers) == sorted(headers)
    assert headers["Message-Id"] == ["<Invoice-INV-42@shop.example>"]
    assert headers["X-Notification-Category"] == ["invoice.created"]
    assert "Jörg Buchhalter" in headers["Cc"][0] or "=?utf-8?" in headers["Cc"][0]
    async with http.get(f"/api/v1/message/{message['ID']}/raw") as response:
        raw = await response.read()
    assert raw.endswith(data.split(b"\r\n\r\n", 1)[1]) and b"\r\nCc: " in raw
    async with http.get(f"/api/v1/message/{message['ID']}/original", params={"dl": "1"}) as response:
        assert await response.read() == data
        assert response.headers["Content-Disposition"] == f'attachment; filename="{message["ID"]}-original.eml"'
    async with http.get(f"/api/v1/message/{message['ID']}/changes") as response:
        changes = await response.json()
    added = [row for row in changes["Headers"] if row["Before"] is None]
    assert [row["After"].split(":")[0] for row in added] == ["Received", "Cc"]
    assert changes["Decision"] == "rewritten" and "opted in to billing" in changes["Reason"]
    async with http.get(f"/view/{message['ID']}.txt") as response:
        assert (await response.text()).startswith("Dear customer")
    async with http.get("/api/v1/message/999") as response:
        assert response.status == 404 and "no message 999" in await response.text()
    async with http.get(f"/api/v1/message/{message['ID']}/part/7") as response:
        assert response.status == 404


async def test_the_html_part_is_served_sandboxed_with_its_images_from_the_message(inbox_relay, http):
    html = (
        "<p>Hi</p><img src='cid:logo@shop'><a href='https://x.example/pay' target=_top>pay</a>"
        "<base href='https://x.example/'><meta http-equiv=refresh content='0;url=https://x.example/'>"
    )
    await capture(inbox_relay, (ACME, invoice(html=html)))
    async with http.get("/view/latest.html") as response:
        page = await response.text()
        policy = response.headers["Content-Security-Policy"]
    assert policy.startswith("sandbox;") and "default-src 'none'" in policy and "img-src 'self' data:" in policy
    assert "script-src" not in policy and response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "src='/api/v1/message/1/part/1.2.2'" in page
    assert '<a href="https://x.example/pay" target="_blank" rel="noopener noreferrer">' in page
    assert "<base" not in page and "refresh" not in page
    async with http.get("/view/latest.html", params={"remote": "1"}) as response:
        remote = response.headers["Content-Security-Policy"]
    assert (
        remote.startswith("sandbox allow-popups allow-popups-to-escape-sandbox;")
        and "img-src 'self' data: http: https:" in remote
    )


async def test_search_words_and_latest_of_a_search(inbox_relay, http):
    await capture(
        inbox_relay,
        (ACME, invoice()),
        (BETA, invoice("Reminder R-7", to=BETA, category="payment.reminder")),
        (ACME, invoice("Order O-1", category="order.confirmed")),
    )

    async def subjects(query: str) -> list[str]:
        async with http.get("/api/v1/search", params={"query": query}) as response:
            assert response.status == 200, await response.text()
            found = await response.json()
        assert found["total"] == 3 and found["messages_count"] == len(found["messages"])
        return [m["Subject"] for m in found["messages"]]

    assert await subjects("category:billing") == ["Reminder R-7", "Invoice INV-42"]
    assert await subjects("added:books@acme.example") == ["Invoice INV-42"]
    assert await subjects("added:bea@beta.example") == ["Reminder R-7"]
    assert await subjects("to:beta@customer.example") == ["Reminder R-7"]
    assert await subjects('subject:"Order O-1"') == ["Order O-1"]
    assert await subjects("is:unread -category:account") == ["Reminder R-7", "Invoice INV-42"]
    async with http.get("/api/v1/message/latest", params={"query": "category:billing"}) as response:
        assert (await response.json())["Subject"] == "Reminder R-7"
    async with http.get("/api/v1/search") as response:
        assert response.status == 400


async def test_read_status_and_deletes_as_mailpit_takes_them(inbox_relay, http):
    await capture(
        inbox_relay, (ACME, invoice()), (BETA, invoice("Reminder R-7", to=BETA)), (ACME, invoice("Order O-1"))
    )
    async with http.put("/api/v1/messages", json={"IDs": ["1", "2"], "Read": True}) as response:
        assert response.status == 200 and await response.text() == "ok"
    async with http.get("/api/v1/search", params={"query": "is:unread"}) as response:
        assert [m["ID"] for m in (await response.json())["messages"]] == ["3"]
    async with http.put("/api/v1/messages", json={"Search": "to:beta", "Read": False}) as response:
        assert response.status == 200
    async with http.put("/api/v1/messages", json={"IDs": ["1"], "Search": "x"}) as response:
        assert response.status == 400
    async with http.get("/api/v1/messages") as response:
        assert (await response.json())["unread"] == 2
    # The Python client sends a form, not JSON: those ids are deleted, not all.
    async with http.delete("/api/v1/messages", data={"ids": ["1"]}) as response:
        assert response.status == 200
    async with http.delete("/api/v1/search", params={"query": "to:beta"}) as response:
        assert response.status == 200
    assert [r.subject for r in relay_log.captured_messages(10)] == ["Order O-1"]
    async with http.delete("/api/v1/messages", json={"IDs": ["nine"]}) as response:
        assert response.status == 400
    async with http.delete("/api/v1/messages") as response:  # no IDs: all, as in Mailpit
        assert response.status == 200
    assert relay_log.captured_messages(10) == []
    # Their relay log entries stay.
    assert len(relay_log.recent_log(10)) == 3


async def test_chaos_triggers_are_chaos_rules_that_fail_mail(inbox_relay, http):
    from contacts_tui.core.mail import chaos

    chaos.add_rule(chaos.rule("data", "451 4.3.0 Slow down", category="billing", probability=0.5))
    async with http.get("/api/v1/chaos") as response:
        triggers = await response.json()
    assert triggers["Sender"] == {"ErrorCode": 451, "Probability": 0}
    assert triggers["Authentication"] == {"ErrorCode": 535, "Probability": 0}
    assert [r["Reply"] for r in triggers["Rules"]] == ["451 4.3.0 Slow down"]
    async with http.put("/api/v1/chaos", json={"Sender": {"ErrorCode": 452, "Probability": 100}}) as response:
        assert response.status == 200
        triggers = await response.json()
    assert triggers["Sender"] == {"ErrorCode": 452, "Probability": 100}
    assert triggers["Recipient"] == {"ErrorCode": 451, "Probability": 0}
    assert len(triggers["Rules"]) == 2  # the rule with a pattern stays

    answers = []

    async def refused() -> bool:
        answers.append(await send(inbox_relay.port, [ACME], invoice()))
        return answers[-1].code == 452

    # The relay reads the rules within a second.
    await wait_until(refused, 10, lambda: answers[-1], interval=0.1)
    answer = answers[-1]
    assert answer.text == "Chaos sender error"
    async with http.put("/api/v1/chaos", json={}) as response:
        assert (await response.json())["Sender"]["Probability"] == 0
    async with http.put("/api/v1/chaos", json={"Authentication": {"Probability": 5}}) as response:
        assert response.status == 400 and "no chaos at authentication" in await response.text()
    async with http.put("/api/v1/chaos", json={"Recipient": {"ErrorCode": 250, "Probability": 5}}) as response:
        assert response.status == 400 and "between 400 and 599" in await response.text()


async def test_events_tell_of_new_mail_reads_and_deletes(inbox_relay, http):
    async with http.ws_connect("/api/events") as events:
        first = json.loads((await events.receive(10)).data)
        assert first == {"Type": "stats", "Data": {"Total": 0, "Unread": 0, "Version": first["Data"]["Version"]}}
        await capture(inbox_relay, (ACME, invoice()))

        async def next_of(kind: str) -> dict:
            while True:
                event = json.loads((await asyncio.wait_for(events.receive(), 10)).data)
                if event["Type"] == kind:
                    return event["Data"]

        new = await next_of("new")
        assert new["Subject"] == "Invoice INV-42" and new["ID"] == "1"
        assert "books@acme.example" in [p["Email"] for p in new["ContactPersons"]]
        assert (await next_of("stats"))["Total"] == 1
        async with http.put("/api/v1/messages", json={"IDs": ["1"], "Read": True}):
            pass
        assert await next_of("update") == {"ID": "1", "Read": True}
        # Deleted elsewhere (the command line, the TUI): the list is read again.
        relay_log.delete_captured(1)
        assert await next_of("prune") is None


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/send"),
        ("POST", "/api/v1/message/1/release"),
        ("GET", "/api/v1/message/1/link-check"),
        ("PUT", "/api/v1/tags"),
    ],
)
async def test_what_makes_no_sense_here_says_why(http, method, path):
    async with http.request(method, path, json={}) as response:
        assert response.status == 501 and "not on a capture relay" in await response.text()


async def test_every_response_carries_the_security_headers(inbox_relay, http):
    await capture(inbox_relay, (ACME, invoice()))
    for path in ("/", "/inbox.js", "/inbox.css", "/api/v1/messages", "/api/v1/message/1/raw", "/nothing"):
        async with http.get(path) as response:
            headers = response.headers
        policy = headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy, path
        assert "frame-ancestors 'none'" in policy and headers["X-Frame-Options"] == "DENY", path
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["Referrer-Policy"] == "no-referrer", path
        assert headers["Cache-Control"] == "no-store", path
    async with http.get("/") as response:
        page = await response.text()
    assert "<script>" not in page and "://" not in page.replace("http-equiv", "")  # nothing from another host
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


async def test_a_name_it_was_not_started_with_and_another_sites_changes_are_refused(inbox_relay, http):
    await capture(inbox_relay, (ACME, invoice()))
    async with http.get("/api/v1/messages", headers={"Host": f"rebound.example:{inbox_relay.inbox.port}"}) as response:
        assert response.status == 421
    for host in (f"localhost:{inbox_relay.inbox.port}", f"127.0.0.1:{inbox_relay.inbox.port}"):
        async with http.get("/api/v1/messages", headers={"Host": host}) as response:
            assert response.status == 200, host
    async with http.delete("/api/v1/messages", headers={"Origin": "https://evil.example"}) as response:
        assert response.status == 403
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await http.ws_connect("/api/events", origin="https://evil.example")
    assert len(relay_log.captured_messages(10)) == 1


async def test_a_message_a_tagging_rule_tagged_says_which_rule(inbox_relay, http, directory):
    from contacts_tui.core.directory.history import Actor
    from contacts_tui.core.tagging import store
    from contacts_tui.core.tagging.rule import RuleInput

    from ...notifications import SENDER as PAYREQUEST
    from ...notifications import dutch_invoice

    rule = RuleInput(category="invoice.created", subject="Factuur", enabled=True)
    store.add_rule(rule, directory.catalog, Actor("admin ann", "tui"))
    assert (await send(inbox_relay.port, [ACME], dutch_invoice(ACME), sender=PAYREQUEST)).code == 250
    async with http.get("/api/v1/message/latest") as response:
        message = await response.json()
    assert message["TaggedBy"] == "rule 1: Subject contains 'Factuur'"
    assert message["Category"] == "invoice.created" and message["Tags"] == ["billing"]
    assert sorted(p["Email"] for p in message["ContactPersons"]) == sorted(ACME_BILLING)
    async with http.get("/api/v1/messages") as response:
        assert (await response.json())["messages"][0]["TaggedBy"] == "rule 1: Subject contains 'Factuur'"
