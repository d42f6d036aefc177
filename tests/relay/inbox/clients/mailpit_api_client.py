"""A test suite's use of the ``mailpit-api-client`` Python package, unchanged,
against a capture relay. Usage: python mailpit_api_client.py BASE_URL; prints
one JSON line of what it found."""

import json
import sys

from mailpit.client.api import API

api = API(sys.argv[1])
messages = api.get_messages()
assert messages.total == 2 and len(messages.messages) == 2, messages
invoice = next(m for m in messages.messages if m.subject == "Invoice INV-42")
assert any(cc.address == "books@acme.example" for cc in invoice.cc), invoice.cc
message = api.get_message(invoice.id)
assert message.subject == "Invoice INV-42" and message.read is not None
(pdf,) = [a for a in message.attachments if a.content_type == "application/pdf"]
data = api.get_message_attachment(invoice.id, pdf.part_id)
other = next(m for m in messages.messages if m.id != invoice.id)
api.delete_messages([other.id])
left = api.get_messages()
print(json.dumps({"ok": True, "pdf": len(data), "left": [m.subject for m in left.messages]}))
