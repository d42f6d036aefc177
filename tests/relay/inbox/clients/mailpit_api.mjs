// A test suite's use of the `mailpit-api` npm client, unchanged, against a capture relay.
// Usage: node mailpit_api.mjs BASE_URL; prints "waiting" when it listens for the next
// message over /api/events, then one JSON line of what it found.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { MailpitClient } from "mailpit-api";

const base = process.argv[2];
const mailpit = new MailpitClient(base);

const info = await mailpit.getInfo();
assert.equal(info.Messages, 2);

const list = await mailpit.listMessages();
assert.equal(list.messages_count, 2);
assert.equal(list.messages.length, 2);

// Send a notification, wait for it, assert the bookkeeper is in Cc, open the PDF.
const invoice = await mailpit.waitForMessage({ query: 'subject:"Invoice INV-42"' }, { timeout: 10000 });
assert.ok(invoice.Cc.some((cc) => cc.Address === "books@acme.example"), "the bookkeeper is in Cc");
const bookkeeper = invoice.ContactPersons.find((p) => p.Email === "books@acme.example");
assert.equal(bookkeeper.Reason, "opted in to billing");

const found = await mailpit.searchMessages({ query: "added:books@acme.example category:billing" });
assert.deepEqual(found.messages.map((m) => m.ID), [invoice.ID]);

const pdf = invoice.Attachments.find((a) => a.ContentType === "application/pdf");
const blob = await mailpit.getMessageAttachment(invoice.ID, pdf.PartID);
const bytes = Buffer.from(await blob.arrayBuffer());
assert.equal(blob.type, "application/pdf");
assert.equal(createHash("sha256").update(bytes).digest("hex"), pdf.Checksums.SHA256);

const headers = await mailpit.getMessageHeaders(invoice.ID);
assert.equal(headers["X-Notification-Category"][0], "invoice.created");
const source = await mailpit.getMessageSource(invoice.ID);
assert.match(source, /^Received: /);
const html = await mailpit.renderMessageHTML(invoice.ID);
assert.match(html, /invoice/);

await mailpit.setReadStatus({ IDs: [invoice.ID], Read: false });
assert.equal((await mailpit.listMessages()).unread, 2);

const other = list.messages.find((m) => m.ID !== invoice.ID);
await mailpit.deleteMessages({ IDs: [other.ID] });
assert.equal((await mailpit.listMessages()).messages_count, 1);

const triggers = await mailpit.setChaosTriggers({ Recipient: { ErrorCode: 451, Probability: 0 } });
assert.equal(triggers.Sender.Probability, 0);

// The next message, told over the events websocket.
const events = new WebSocket(base.replace(/^http/, "ws") + "/api/events");
const next = new Promise((resolve, reject) => {
  events.addEventListener("message", (event) => {
    const { Type, Data } = JSON.parse(event.data);
    if (Type === "new") resolve(Data);
  });
  events.addEventListener("error", reject);
});
await new Promise((resolve) => events.addEventListener("open", resolve));
console.log("waiting");
const arrived = await next;
events.close();
assert.equal(arrived.Subject, "Reminder R-8");

await mailpit.deleteMessagesBySearch({ query: "category:billing" });
const left = await mailpit.listMessages();
console.log(JSON.stringify({ ok: true, pdf: bytes.length, arrived: arrived.Subject, left: left.messages_count }));
