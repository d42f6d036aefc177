"""`preview` says what `serve` does: the same hostile messages through a real relay
(capture mode) and through preview, their verdicts compared field by field.

Each message is sent over a raw socket, so bare CRs reach the relay as written;
preview reads the same bytes, with the tagging rules in force. A difference in
any copy's decision, reason, people added, tagging rule, customers or category
fails with both sides shown.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from contacts_tui.core.directory.history import Actor
from contacts_tui.core.mail import relay_log
from contacts_tui.core.mail.status import Decision
from contacts_tui.core.tagging import store
from contacts_tui.core.tagging.engine import RuleSet
from contacts_tui.core.tagging.rule import RuleInput
from relay.cli import preview
from relay.server import decision

from ...waiting import wait_until
from ..helpers import ACME, BETA, SENDER, message, relay_config, running, seed
from ..helpers.dkim import sign

HEADER = "X-Notification-Category"
STRANGER = "someone@elsewhere.example"


def _hostile(dkim_keys) -> dict[str, tuple[list[str], bytes]]:
    """Name -> (envelope recipients, message)."""
    signed = sign(
        message([("Cc", "Office <office@acme.example>")], message_id="<dkim@shop.example>"),
        dkim_keys,
        [b"from", b"to", b"cc", b"subject", b"message-id"],
    )
    return {
        # The category hides after a bare CR: a header to the upstream, so to the relay too.
        "bare CR": ([ACME], message(category=None, subject="Invoice\rX-Notification-Category: billing")),
        "refused header": (
            [ACME],
            message([("Received", f"from hop{n}.example") for n in range(60)], message_id="<loop@shop.example>"),
        ),
        "no category": ([ACME], message(category=None, message_id="<none@shop.example>")),
        # No header, and the second tagging rule matches (PayRequest's Dutch invoices).
        "tagged": ([ACME], message(category=None, subject="Factuur 2026-118", message_id="<tagged@shop.example>")),
        "several customers": (
            [ACME, BETA, STRANGER],
            message(to="undisclosed-recipients:;", message_id="<three@shop.example>"),
        ),
        "DKIM over Cc": ([ACME, "office@acme.example"], signed),
        "malformed Cc": ([ACME], message([("Cc", '"Office <office@acme.example>')], message_id="<cc@shop.example>")),
    }


def _send(port: int, recipients: list[str], data: bytes) -> str:
    """MAIL, RCPT, DATA with ``data`` sent as it is; the reply to the final dot."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        reader = sock.makefile("rb")

        def reply() -> str:
            while True:
                line = reader.readline().decode()
                if len(line) < 4 or line[3] != "-":
                    return line.rstrip()

        reply()
        for command in ["EHLO raw.test", f"MAIL FROM:<{SENDER}>", *(f"RCPT TO:<{r}>" for r in recipients), "DATA"]:
            sock.sendall(command.encode() + b"\r\n")
            reply()
        sock.sendall(data + b".\r\n")
        answer = reply()
        sock.sendall(b"QUIT\r\n")
        return answer


def _message_id(data: bytes) -> str:
    return decision.read(data, decision.DEFAULT_LIMITS).headers.first("message-id")


def _logged(message_id: str, wanted: int) -> list[relay_log.LogEntry] | None:
    """The relay log entries of the message, once all ``wanted`` copies are written."""
    entries = [entry for entry in relay_log.recent_log(20) if entry.message_id == message_id]
    return entries if len(entries) >= wanted else None


def _served(entries: list[relay_log.LogEntry]) -> list[dict]:
    return [
        {
            "recipients": list(entry.recipients),
            "customers": list(entry.customers),
            "category": entry.category,
            "decision": str(entry.verdict.decision),
            "reason": entry.verdict.reason,
            "added": list(entry.verdict.added),
            "tagged_by": entry.verdict.tagged_by,
        }
        for entry in sorted(entries, key=lambda entry: entry.copy_number)
    ]


def _previewed(found: preview.Assessment) -> list[dict]:
    if found.refusal:
        verdict = decision.refused(found.refusal)
        return [
            {
                "recipients": found.recipients,
                "customers": [],
                "category": "",
                "decision": str(verdict.decision),
                "reason": verdict.reason,
                "added": [],
                "tagged_by": verdict.tagged_by,
            }
        ]
    return [
        {
            "recipients": list(plan.recipients),
            "customers": [customer.email for customer in plan.audience.customers],
            "category": found.category or "",
            "decision": str(verdict.decision),
            "reason": verdict.reason,
            "added": list(verdict.added),
            "tagged_by": verdict.tagged_by,
        }
        for plan, verdict in found.copies
    ]


async def test_preview_and_serve_give_every_hostile_message_the_same_verdicts(sqlite_directory, tmp_path, dkim_keys):
    seed(sqlite_directory)
    admin = Actor("admin ann", "cli")
    for subject in ["Herinnering", "Factuur"]:
        store.add_rule(RuleInput(category="billing", subject=subject, enabled=True), sqlite_directory.catalog, admin)
    store.add_rule(RuleInput(category="account", subject="Factuur"), sqlite_directory.catalog, admin)  # off
    rules = RuleSet(store.current_rules())
    messages = _hostile(dkim_keys)
    served: dict[str, list[dict]] = {}
    async with running(relay_config(tmp_path), sqlite_directory) as relay:  # no upstream: capture mode
        for name, (recipients, data) in messages.items():
            answer = await asyncio.to_thread(_send, relay.port, recipients, data)
            assert answer[:1] in ("2", "5"), (name, answer)
            wanted = 3 if name == "several customers" else 2 if name == "DKIM over Cc" else 1
            message_id = _message_id(data)
            entries = await wait_until(
                lambda message_id=message_id, wanted=wanted: _logged(message_id, wanted),
                describe=lambda message_id=message_id: f"the relay log of {message_id}",
            )
            served[name] = _served(entries)
        captured = [
            record for record in relay_log.captured_messages(50) if record.message_id == "<tagged@shop.example>"
        ]

    for name, (recipients, data) in messages.items():
        found = preview.assess(sqlite_directory, data, recipients, HEADER, sender=SENDER, rules=rules)
        assert _previewed(found) == served[name], name

    # What each case is there for, as serve decided it.
    decisions = {name: [copy["decision"] for copy in copies] for name, copies in served.items()}
    assert decisions == {
        "bare CR": [Decision.REWRITTEN],
        "refused header": [Decision.REFUSED],
        "no category": [Decision.UNCHANGED],
        "tagged": [Decision.REWRITTEN],
        "several customers": [Decision.REWRITTEN, Decision.REWRITTEN, Decision.UNCHANGED],
        "DKIM over Cc": [Decision.ENVELOPE_ONLY, Decision.UNCHANGED],
        "malformed Cc": [Decision.ENVELOPE_ONLY],
    }
    assert served["bare CR"][0]["category"] == "billing"
    assert served["bare CR"][0]["tagged_by"] == ""  # a header, however hidden, wins over every rule
    (tagged,) = served["tagged"]
    assert tagged["category"] == "billing" and tagged["tagged_by"] == "rule 2: Subject contains 'Factuur'"
    assert [record.tagged_by for record in captured] == [tagged["tagged_by"]]  # the capture store keeps it
    assert tagged["reason"].startswith("tagged billing by rule 2: Subject contains 'Factuur'; ")
    assert (
        served["no category"][0]["reason"] == "no notification category header, and none of the 2 tagging rules matched"
    )


@pytest.mark.parametrize("category", [None, "billing"])
def test_preview_prints_the_verdict_word_for_word(capsys, sqlite_directory, category):
    seed(sqlite_directory)
    data = message(category=category)
    found = preview.assess(sqlite_directory, data, [], HEADER)
    preview.show(found, HEADER)
    out = capsys.readouterr().out
    ((_, verdict),) = found.copies
    assert f"Decision: {verdict.decision}: {verdict.reason}\n" in out
