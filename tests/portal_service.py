"""The portal service inside the test process, on sockets under a test's
folder, as `contacts-tui portal-service` runs it: the tests drive it from
the outside, through the client a portal process holds (or raw lines)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from contacts_tui.core.directory.service import Directory
from contacts_tui.core.portal.client import PortalClient, PortalSession
from contacts_tui.core.portal.scope import PortalScope
from contacts_tui.core.portal.server import Listener, ServiceThread
from contacts_tui.core.portal.service import PortalService
from contacts_tui.core.portal.sessions import Peer
from contacts_tui.core.portal.signin import MailRoute, SignIn

from .waiting import poll

DISCARD = 9
"""Port 9 (discard): where code mails go in tests that ask for none."""


@dataclass
class RunningService:
    service: PortalService
    thread: ServiceThread
    sockets: dict[str, Path]

    def client(self, channel: str = "ssh") -> PortalClient:
        return PortalClient(str(self.sockets[channel]))

    def signed_in(self, customer_id: int, channel: str = "ssh") -> PortalSession:
        """A session of this process for the customer, as a right code gives
        one: for tests about what comes after signing in."""
        peer = Peer(channel, os.getpid(), os.getuid())
        token = self.service.sessions.open(PortalScope(self.service.directory, customer_id, channel), peer)
        client = self.client(channel)
        return PortalSession(client, token, client.call("customer", token))


@contextmanager
def running_service(
    directory: Directory, folder: Path, mail_port: int = DISCARD, **options
) -> Iterator[RunningService]:
    """The service over ``directory``, its ssh and web sockets in ``folder``,
    its code mails to an SMTP server on ``mail_port`` (a capture relay)."""
    # The code's work at once, not seconds later at random as in production:
    # the tests about what comes after a code need not wait for it.
    signin = SignIn(directory, MailRoute("127.0.0.1", mail_port, "portal@shop.example"), delay=(0.0, 0.0))
    service = PortalService(signin)
    sockets = {"ssh": folder / "ssh.sock", "web": folder / "web.sock"}
    listeners = [Listener(path, channel) for channel, path in sockets.items()]
    with ServiceThread(service, listeners, **options) as thread:
        yield RunningService(service, thread, sockets)


def mailed_codes(address: str) -> list[str]:
    """The sign-in codes a capture relay received for ``address``, newest first."""
    from contacts_tui.core.mail import relay_log

    codes = []
    for record in relay_log.captured_messages(50):
        if address in record.recipients:
            found = re.search(rb"(?:sign-in code|inlogcode): (\d{6})", relay_log.captured_message(record.id)[2])
            if found:
                codes.append(found.group(1).decode())
    return codes


def new_code(client: PortalClient, address: str) -> str:
    """Ask for a code as a portal does, and the code the mail brought."""
    before = len(mailed_codes(address))
    client.request_code(address)
    return poll(lambda: len(mailed_codes(address)) > before and mailed_codes(address)[0], 15)
