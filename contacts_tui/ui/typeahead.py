"""Keys that arrive in a burst are handled as if typed one at a time.

A paste over SSH, tmux ``send-keys`` of a word or a fast typist delivers
many keys at once. Textual hands each key to the focused widget the moment
it arrives, while a key bound on the screen (``a``: add, ``enter``: open)
takes effect only after it has come back up from that widget. So in
``a`` followed at once by ``Bea``, the B, e and a reached the old screen
(``e`` opened the edit form there) before the form the ``a`` asked for was
shown; and the keys that came while a screen was being built went to
nothing. This is how Textual dispatches keys (8.x), not a lost byte: its
terminal reader loses none.

So the app lets a key that may change what has the focus or what is shown
(anything but typing into a text field) finish first: the keys behind it
wait until every widget has handled its messages and the database calls
it started have answered (at most ``LIMIT`` seconds), then go on in order.
Typing into a field is not held up.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from textual import events
from textual.app import App
from textual.widgets import Input, TextArea

LIMIT = 2.0
"""The longest the keys behind one wait for it (a database that does not answer)."""
EDITING = frozenset({"backspace", "delete", "left", "right", "home", "end", "ctrl+left", "ctrl+right"})
"""Keys a text field handles itself, like the characters typed into it."""
BACKGROUND = "background "
"""How the group of a worker that runs for long begins (a bulk change of
thousands of records): keys never wait for it, or the keys behind one
would each wait ``LIMIT`` seconds while it runs."""


class TypeAhead(App):
    """An app whose keys keep their order and their target in a burst (see above)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._held: deque[events.Key | events.Paste] = deque()
        # Until the first screen is up, as after any key that changes screens.
        self._settling = True
        self._settler: asyncio.Task | None = None

    @property
    def keys_waiting(self) -> bool:
        """Keys are held behind one that is still being handled."""
        return self._settling or bool(self._held)

    async def on_event(self, event: events.Event) -> None:
        # A paste (a terminal's bracketed paste) keeps its place among the keys too.
        if isinstance(event, (events.Key, events.Paste)) and not event.is_forwarded:
            if self.keys_waiting:
                self._held.append(event)
                return
            await self._handle_key(event)
            return
        await super().on_event(event)

    def on_ready(self) -> None:
        self._settle()

    async def _handle_key(self, event: events.Key | events.Paste) -> None:
        typing = self._types_into_field(event)
        await super().on_event(event)
        if not typing:
            self._settle()

    def _types_into_field(self, event: events.Key | events.Paste) -> bool:
        if not isinstance(self.focused, (Input, TextArea)):
            return False
        return isinstance(event, events.Paste) or event.is_printable or event.key in EDITING

    def _settle(self) -> None:
        self._settling = True
        if self._settler is None or self._settler.done():
            self._settler = asyncio.get_running_loop().create_task(self._wait_then_release())

    async def _wait_then_release(self) -> None:
        try:
            await self._until_idle()
        finally:
            self._settling = False
            if self._held and self.is_running:
                self.call_next(self._release)

    async def _release(self) -> None:
        # Runs as one of the app's own messages, so keys that arrive meanwhile
        # queue up behind the held ones.
        while self._held and not self._settling:
            await self._handle_key(self._held.popleft())

    async def _until_idle(self) -> None:
        deadline = time.monotonic() + LIMIT
        while time.monotonic() < deadline and self.is_running:
            try:
                nodes = [self, *self.screen.walk_children(with_self=True)]
            except Exception:  # no screen yet, or one going away
                nodes = [self]
            busy = [node for node in nodes if node.message_queue_size]
            working = any(worker.is_running and not worker.group.startswith(BACKGROUND) for worker in self.workers)
            if not busy and not working:
                # Nothing waiting now; one more look after the loop's turn, as
                # a message just handled may have posted another.
                await asyncio.sleep(0)
                if not any(node.message_queue_size for node in nodes):
                    return
                continue
            if busy:
                await _handled(busy, deadline)
            else:
                await asyncio.sleep(0.005)  # a database call in a thread: its answer comes as a message


async def _handled(nodes, deadline: float) -> None:
    """Until each of ``nodes`` has handled what it held a moment ago."""
    waiting = [node for node in nodes]
    done = asyncio.Event()
    count = 0

    def one() -> None:
        nonlocal count
        count -= 1
        if count <= 0:
            done.set()

    for node in waiting:
        if node.call_later(one):
            count += 1
    if count:
        try:
            await asyncio.wait_for(done.wait(), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            pass
