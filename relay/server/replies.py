"""Every SMTP reply the relay's server gives of its own: code, enhanced code, text, metric label.

The handler, the protocol and the listener say their replies through here,
so a reply's words and the label it is counted under are written once.
A refusal's ``label`` names the ``contacts_relay_messages_refused_total``
reason it counts under (None: a reply that refuses no message, or one the
session answers without a message to count).
"""

from __future__ import annotations

from dataclasses import dataclass

from contacts_tui.core.mail.verdict import Label


@dataclass(frozen=True, slots=True)
class Answer:
    """A reply as said: the line, and the label a refusal is counted under."""

    text: str
    label: Label | None = None

    @property
    def code(self) -> str:
        return self.text[:3]

    @property
    def words(self) -> str:
        """The line without its three-digit code."""
        return self.text[4:]


@dataclass(frozen=True, slots=True)
class RelayReply:
    """One of the relay's replies; ``text`` may name values (``{limit}``) given when it is said."""

    code: int
    status: str
    text: str
    label: Label | None = None

    def __call__(self, **values: object) -> Answer:
        return Answer(f"{self.code} {self.status} {self.text.format(**values)}", self.label)

    @property
    def line(self) -> bytes:
        """A reply without values as it goes on the wire (for connections refused before a session)."""
        return f"{self.code} {self.status} {self.text}\r\n".encode("ascii")


# MAIL and RCPT.
SENDER_OK = RelayReply(250, "2.1.0", "Sender ok")
RECIPIENT_OK = RelayReply(250, "2.1.5", "Recipient ok")
AUTH_REQUIRED = RelayReply(
    530,
    "5.7.0",
    "Authentication required: this relay accepts mail only from allowed networks or after AUTH over TLS",
    Label.ACCESS,
)
BAD_SENDER = RelayReply(553, "5.1.7", "The sender address {problem}", Label.ADDRESS)
NULL_RECIPIENT = RelayReply(553, "5.1.3", "The null address <> cannot be a recipient", Label.ADDRESS)
BAD_RECIPIENT = RelayReply(553, "5.1.3", "The recipient address {problem}", Label.ADDRESS)
TOO_MANY_RECIPIENTS = RelayReply(452, "4.5.3", "Too many recipients (at most {limit} per message)", Label.RECIPIENTS)

# DATA.
ACCEPTED = RelayReply(250, "2.0.0", "Ok: {where}")
ACCEPTED_PREFIX = b"250 2.0.0 Ok: "
"""How every acceptance of a message starts (the protocol recognises it)."""
TOO_BIG = RelayReply(552, "5.3.4", "Message too big for this relay (limit {limit})", Label.SIZE)
LINE_TOO_LONG = RelayReply(
    500, "5.5.2", "Line too long: lines may hold at most 998 characters (RFC 5321 4.5.3.1.6)", Label.LINE
)
TOO_MANY_FIELDS = RelayReply(
    552, "5.6.0", "Too many header fields ({count:,}; this relay takes at most {limit:,})", Label.HEADERS
)
FIELD_TOO_LONG = RelayReply(
    552, "5.6.0", "Header field {name} too long ({size:,} bytes; this relay takes at most {limit:,})", Label.HEADERS
)
TOO_MANY_HOPS = RelayReply(554, "5.4.6", "Too many hops ({hops} Received headers): a mail loop?", Label.LOOP)
DIRECTORY_UNAVAILABLE = RelayReply(
    451, "4.3.0", "The contact directory is unavailable; please try again later", Label.DIRECTORY
)
NOT_STORED = RelayReply(451, "4.3.0", "The message could not be stored; please try again later", Label.STORAGE)
LOCAL_ERROR = RelayReply(451, "4.3.0", "Local error in processing; please try again later")

# The session and the connection.
SHUTTING_DOWN = RelayReply(421, "4.3.2", "The relay is shutting down; please try again later")
TOO_MUCH_JUNK = RelayReply(421, "4.7.0", "Too many commands without mail; closing the connection")
BUSY = RelayReply(421, "4.7.0", "Too many connections; please try again later")
CLIENT_BUSY = RelayReply(421, "4.7.0", "Too many connections from your address; please try again later")
IDLE = RelayReply(421, "4.4.2", "Idle for too long; closing the connection")
AUTH_CLIENT_THROTTLED = RelayReply(
    454, "4.7.0", "Too many failed AUTH attempts from your address; please try again later"
)
AUTH_ACCOUNT_THROTTLED = RelayReply(454, "4.7.0", "Too many failed AUTH attempts for this user; please try again later")
AUTH_UNAVAILABLE = RelayReply(454, "4.7.0", "Authentication is unavailable; please try again later")


def chaos(reply: str) -> Answer:
    """A chaos rule's reply (capture mode): the tester's own words, counted as chaos."""
    return Answer(reply, Label.CHAOS)
