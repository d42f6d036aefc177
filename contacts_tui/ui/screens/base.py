"""What every screen of the app shares: reasons for unavailable keys, help
text, and directory calls that run off the UI thread."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from textual import events
from textual.actions import parse
from textual.binding import Binding
from textual.screen import ModalScreen, Screen
from textual.worker import Worker, WorkerState, get_current_worker

from contacts_tui.core.directory.service import Directory
from contacts_tui.core.display import visible
from contacts_tui.core.errors import DatabaseUnavailable, DirectoryError

from ..language import N_, _, said

T = TypeVar("T")

if TYPE_CHECKING:
    # The mixins below are only ever mixed into a Screen: typed as one, they may use its calls.
    _Screen = Screen
else:
    _Screen = object


class DirectoryCalls(_Screen):
    """Mixin for screens: run directory calls in thread workers, answer on the UI thread."""

    app: Any

    @property
    def directory(self) -> Directory:
        return self.app.directory

    def call_directory(
        self,
        group: str,
        call: Callable[[], T],
        done: Callable[[T], None],
        failed: Callable[[DirectoryError], None] | None = None,
        *,
        write: bool = False,
    ) -> Worker:
        """Run ``call`` in a thread; ``done`` or ``failed`` runs on the UI thread.

        A newer read in the same group supersedes an older one, whose answer is
        then dropped. Writes are never superseded: a cancelled worker may not
        have started yet, and a change the user asked for must not vanish. A
        database outage always ends in a notification (and ``failed``, so a
        form can stop waiting), never in lost input.
        """

        def run() -> None:
            worker = get_current_worker()
            try:
                result = call()
            except DatabaseUnavailable as exc:
                self._answer(worker, self._database_unavailable, exc, failed)
            except DirectoryError as exc:
                self._answer(worker, failed or self._directory_error, exc)
            except Exception as exc:
                # A defect (or a process out of memory), not the directory's
                # answer: the app ends as on any crash, instead of waiting
                # for ever for an answer that never comes.
                try:
                    self.app.call_from_thread(self.app._handle_exception, exc)
                except RuntimeError:
                    pass  # the app closed while the call ran
            else:
                self._answer(worker, done, result)

        return self.run_worker(run, name=group, group=group, thread=True, exclusive=not write, exit_on_error=False)

    def _answer(self, worker: Worker, callback: Callable, value: Any, then: Callable | None = None) -> None:
        if worker.is_cancelled:
            return

        def deliver() -> None:
            # The screen may have closed while the database worked.
            if self.is_attached and not worker.is_cancelled:
                callback(value)
                if then is not None:
                    then(value)

        try:
            self.app.call_from_thread(deliver)
        except RuntimeError:
            pass  # the app closed while the call ran

    def _database_unavailable(self, exc: DatabaseUnavailable) -> None:
        self.app.notify(
            _("{problem}. Nothing you typed is lost: try again once the database is back.").format(problem=said(exc)),
            title=_("Database unavailable"),
            severity="error",
            timeout=12,
            markup=False,
        )

    def _directory_error(self, exc: DirectoryError) -> None:
        self.app.notify(said(exc), title=_("Not done"), severity="warning", timeout=8, markup=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # A bug, not a user error: say so instead of failing silently.
        if event.state == WorkerState.ERROR and event.worker.node is self:
            error = event.worker.error
            self.app.notify(
                f"{type(error).__name__}: {error}", title=_("Unexpected error"), severity="error", markup=False
            )
            self.log.error(event.worker.error)


class KeyHelp(_Screen):
    """Mixin for screens: which keys do what, for the footer, help and command palette.

    ``unavailable`` names the reason an action cannot run right now; the footer
    then dims its key, the palette says why, and pressing it explains instead
    of doing nothing. ``hidden`` removes an action that does not apply at all.
    """

    HELP: ClassVar[str | None] = ""
    """What this screen is for, at the top of its help (``help_text``)."""

    def help_text(self) -> str:
        """What this screen is for, in the app's language."""
        return _(self.HELP) if self.HELP else ""

    EXTRA_KEYS: ClassVar[tuple[tuple[str, str], ...]] = ()
    """Keys handled by widgets rather than bindings, as (key, what it does)."""

    def unavailable(self, action: str, parameters: tuple[object, ...]) -> str | None:
        return None

    def hidden(self, action: str, parameters: tuple[object, ...]) -> bool:
        return False

    _key_state: tuple[bool | None, ...] = ()

    def update_keys(self) -> None:
        """Redraw the footer when what a key can do has changed, and only then.

        The footer rebuilds itself on every refresh, which costs tens of
        milliseconds: too much for each search keystroke or cursor move.
        """
        state = tuple(self.check_action(*parse(binding.action)[1:]) for binding in self.own_bindings())
        if state != self._key_state:
            self._key_state = state
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.hidden(action, parameters):
            return False
        return None if self.unavailable(action, parameters) else True

    def key_bindings(self, *, every: bool = False) -> Iterator[Binding]:
        """This screen's own bindings that apply now, enabled or not, in order.

        With ``every``, also those hidden now that have a reason to give (help
        lists them so a user learns the key before it applies).
        """
        seen: set[str] = set()
        for binding in self.own_bindings():
            if not binding.description or binding.action in seen:
                continue
            _, name, parameters = parse(binding.action)
            if self.hidden(name, parameters) and not (every and self.unavailable(name, parameters)):
                continue
            seen.add(binding.action)
            yield binding

    def own_bindings(self) -> Iterator[Binding]:
        """The bindings of this screen's class, then those it inherits (q from AppScreen)."""
        for cls in type(self).__mro__:
            for binding in cls.__dict__.get("BINDINGS", ()):
                if isinstance(binding, Binding):
                    yield binding

    def describe(self, binding: Binding) -> str:
        """What a key does, in a few words, for help and the command palette."""
        return _(binding.tooltip or binding.description)

    def reason_for(self, binding: Binding) -> str | None:
        _, name, parameters = parse(binding.action)
        return self.unavailable(name, parameters)

    def on_key(self, event: events.Key) -> None:
        # A dimmed key would otherwise do nothing at all; say why instead. So
        # does a key hidden from the footer for now whose reason help gives
        # (u on a contact person who is not deleted).
        reasons = []
        # Textual's key map is private (pinned: tests/test_library_internals.py).
        for binding in self._bindings.key_to_bindings.get(event.key, ()):
            _, name, parameters = parse(binding.action)
            reason = self.unavailable(name, parameters)
            if self.hidden(name, parameters):
                if reason:
                    reasons.append(reason)
                continue
            if reason is None:
                return
            reasons.append(reason)
        if reasons:
            event.stop()
            event.prevent_default()
            self.app.notify(reasons[0], severity="warning", timeout=6, markup=False)


class AppScreen(DirectoryCalls, KeyHelp, Screen):
    """A full screen of the app."""

    BINDINGS: ClassVar[list] = [
        # Where nothing is being typed: a text field takes the q itself.
        Binding("q", "close", N_("close"), show=False, tooltip=N_("Close this screen"), id="screen.close"),
    ]

    def action_close(self) -> None:
        self.dismiss()

    def validate_sub_title(self, sub_title: Any) -> str | None:
        # The header shows a customer's name here: its controls are shown, never obeyed.
        return None if sub_title is None else visible(str(sub_title))


class AppModal(DirectoryCalls, KeyHelp, ModalScreen[T]):
    """A dialog of the app."""
