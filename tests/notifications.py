"""Real-looking notifications from a billing application that cannot add a
category header: an English and a Dutch invoice with their PDFs, a payment
reminder, a SEPA mandate mail, with encoded-word subjects as such senders
write them. Built with the standard library, as a sender's mail library
would; each is CRLF bytes, ready for SMTP.
"""

from __future__ import annotations

import email.quoprimime
import random
import zlib
from email.charset import BASE64, Charset
from email.header import Header
from email.message import EmailMessage
from email.policy import SMTP

SENDER = "noreply@payrequest.example"
FROM = "PayRequest namens Bakkerij de Vries <noreply@payrequest.example>"
MAILER = "PayRequest Mailer 4.2"


def _pdf(seed: int, size: int = 24 * 1024) -> bytes:
    """Something that starts like a PDF, the size of a one-page invoice."""
    return b"%PDF-1.4\n" + random.Random(seed).randbytes(size) + b"\n%%EOF\n"


def encoded(subject: str, encoding: str) -> str:
    """The whole subject as RFC 2047 encoded-words, as PHP and Java mailers write one that is not
    ASCII: ``q`` one quoted-printable word, ``b`` base64 words (where no word of it is legible)."""
    if encoding == "q":
        return email.quoprimime.header_encode(subject.encode(), "utf-8")
    charset = Charset("utf-8")
    charset.header_encoding = BASE64
    return Header(subject, charset, header_name="Subject").encode()


def _message(
    to: str, subject: str, text: str, *, number: str, html: str = "", pdf: bool = False, encoding: str = ""
) -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = FROM
    message["To"] = to
    message["Subject"] = "SUBJECT-TO-COME" if encoding else subject
    message["Date"] = "Mon, 07 Dec 2026 09:30:00 +0100"
    message["Message-ID"] = f"<{number}.{to.split('@')[0]}@payrequest.example>"
    message["X-Mailer"] = MAILER
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    if pdf:
        message.add_attachment(
            _pdf(zlib.crc32(number.encode())), maintype="application", subtype="pdf", filename=f"{number}.pdf"
        )
    data = message.as_bytes()
    if encoding:
        data = data.replace(b"SUBJECT-TO-COME", encoded(subject, encoding).encode(), 1)
    return data


def english_invoice(to: str, number: str = "INV-2026-0042") -> bytes:
    return _message(
        to,
        f"Invoice {number} from Bakkerij de Vries",
        f"Dear customer,\n\nPlease find attached invoice {number} for EUR 1,210.00, due on 21 December 2026.\n",
        html=f"<p>Dear customer,</p><p>Please find attached invoice <b>{number}</b> for EUR&nbsp;1,210.00.</p>",
        number=number,
        pdf=True,
    )


def dutch_invoice(to: str, number: str = "F2026-0042") -> bytes:
    # "Factuur F2026-0042 van Bakkerij de Vries – € 1.210,00": the dash and the
    # euro sign make the subject an encoded-word.
    return _message(
        to,
        f"Factuur {number} van Bakkerij de Vries – € 1.210,00",
        f"Beste klant,\n\nIn de bijlage vindt u factuur {number} van € 1.210,00.\n",
        number=number,
        pdf=True,
        encoding="q",
    )


def payment_reminder(to: str, number: str = "F2026-0042") -> bytes:
    return _message(
        to,
        f"Betalingsherinnering: factuur {number} is vervallen – € 1.210,00",
        f"Beste klant,\n\nWe hebben de betaling van factuur {number} nog niet ontvangen.\n",
        number=f"R-{number}",
        encoding="b",
    )


def sepa_mandate(to: str, reference: str = "MNDT-2026-0007") -> bytes:
    return _message(
        to,
        f"Please sign your SEPA Direct Debit mandate {reference}",
        f"Dear customer,\n\nPlease sign mandate {reference} so we can collect future invoices by direct debit.\n",
        number=reference,
    )


def newsletter(to: str) -> bytes:
    """Mail from the same sender that no billing rule should tag."""
    return _message(
        to, "Nieuw bij Bakkerij de Vries: het kerstassortiment", "Bekijk onze kerststollen.\n", number="NEWS-12"
    )
