"""The bulk changes of ``Directory`` (a collaborator): plan, apply, and the
newest bulk change in the history (see the package's docstring)."""

from __future__ import annotations

import json
from array import array
from collections.abc import Callable

import peewee

from ...catalog import Catalog
from ...errors import DirectoryError, ValidationError
from ...interrupt import Interrupted, Stop
from ...migrate import write_transaction
from ...models import ChangeRecord, utcnow
from ...validate import clean_categories
from .. import history
from ..acting import Acting
from ..history import Actor
from ..settings import Following
from .actions import (
    ACTIVATE,
    DEACTIVATE,
    DELETE,
    RECEIVE_ALL_OFF,
    RECEIVE_ALL_ON,
    RESTORE,
    SHOWN_REFUSALS,
    SWITCH_OFF,
    SWITCH_ON,
    BulkAction,
    BulkPlan,
    BulkRecord,
    BulkResult,
    Refusal,
    Selection,
)
from .steps import Checked, apply_batch, check_batch, contact_batches, customer_batches, records_of, slices

Progress = Callable[[int, int | None], None]
"""Called after each batch with the records done and (when known) how many in all."""


class _Tally:
    """What a run over the batches has counted so far: the same for a plan
    (what would change) and for applying it (what did)."""

    def __init__(self) -> None:
        self.ids, self.owners = array("q"), array("q")
        self.customers = self.unchanged = self.refused_count = self.done = 0
        self.refused: list[Refusal] = []
        self._last_owner: int | None = None

    def add(self, checked: Checked, batch_size: int) -> None:
        for record_id, owner in checked.change:
            self.ids.append(record_id)
            self.owners.append(owner)
            if owner != self._last_owner:
                self.customers, self._last_owner = self.customers + 1, owner
        self.unchanged += checked.unchanged
        self.refused_count += len(checked.refused)
        self.refused.extend(checked.refused[: SHOWN_REFUSALS - len(self.refused)])
        self.done += batch_size


# -- the history of a bulk change ---------------------------------------------

_ACTIONS = {
    history.CONTACT_DELETED: DELETE,
    history.CONTACT_RESTORED: RESTORE,
    history.CUSTOMER_DEACTIVATED: DEACTIVATE,
    history.CUSTOMER_ACTIVATED: ACTIVATE,
}
BULK_HISTORY = (*_ACTIONS, history.CATEGORIES_CHANGED, history.RECEIVE_ALL_CHANGED)
"""The history's actions a bulk change records."""


def _action_of(action: str, changes: list) -> BulkAction | None:
    if action in _ACTIONS:
        return BulkAction(_ACTIONS[action])
    if not changes or len(changes[0]) != 3:
        return None
    _, before, after = changes[0]
    if action == history.RECEIVE_ALL_CHANGED:
        return BulkAction(RECEIVE_ALL_ON if after else RECEIVE_ALL_OFF)
    added, removed = set(after or ()) - set(before or ()), set(before or ()) - set(after or ())
    if len(added | removed) != 1:
        return None
    return BulkAction(SWITCH_ON if added else SWITCH_OFF, next(iter(added | removed)))


class BulkChanges:
    """The bulk changes of ``Directory``: the catalog and the limit of its
    ``settings``, each change recorded for the actor of its ``acting``. The
    directory's calls wrap these (fresh settings, driver failures as
    DatabaseUnavailable)."""

    def __init__(self, database: peewee.Database, settings: Following, acting: Acting) -> None:
        self.database = database
        self.settings = settings
        self.acting = acting

    @property
    def catalog(self) -> Catalog:
        return self.settings.catalog

    @property
    def max_contacts(self) -> int:
        return self.settings.max_contacts

    @property
    def actor(self) -> Actor:
        return self.acting.actor

    def limit_for_write(self) -> int:
        return self.settings.limit_for_write()

    def plan_bulk(
        self, selection: Selection, action: BulkAction, *, progress: Progress | None = None, stop: Stop | None = None
    ) -> BulkPlan:
        """Check every selected record against the rules; nothing is written.
        ``stop.stop()`` from another thread ends it with Interrupted."""
        self._check_action(selection, action)
        tally = _Tally()
        batches = (customer_batches if action.on_customers else contact_batches)(
            self.database, selection, self.max_contacts
        )
        for batch in batches:
            if stop is not None and stop.stopped:
                raise Interrupted("the bulk change was cancelled")
            tally.add(check_batch(action, batch, self.max_contacts), len(batch))
            if progress is not None:
                progress(tally.done, None)
        return BulkPlan(
            action, tally.ids, tally.owners, tally.customers, tally.unchanged, tuple(tally.refused), tally.refused_count
        )

    def apply_bulk(self, plan: BulkPlan, *, progress: Progress | None = None, stop: Stop | None = None) -> BulkResult:
        """Change the records of ``plan``, each checked again, a batch per
        transaction; ``stop.stop()`` ends it after the batch it is in."""
        action, now, actor = plan.action, utcnow(), self.actor
        tally = _Tally()
        stopped, error = False, ""
        for batch in slices(plan.ids, plan.owners):
            if stop is not None and stop.stopped:
                stopped = True
                break
            try:
                with write_transaction(self.database):
                    limit = self.limit_for_write() if action.verb == RESTORE else self.max_contacts
                    checked = apply_batch(self.database, action, batch, self.catalog, limit, actor, now)
            except (peewee.PeeweeException, DirectoryError) as exc:
                if not tally.ids:
                    raise  # nothing changed yet: the error as any call gives it
                # The batches before it are committed: say so, with what they changed.
                error, stopped = _first_line(exc), True
                break
            tally.add(checked, len(batch))
            if progress is not None:
                progress(tally.done, plan.count)
        return BulkResult(
            action,
            tally.ids,
            tally.owners,
            tally.customers,
            tuple(tally.refused),
            tally.refused_count,
            tally.unchanged,
            stopped,
            error,
            plan.count,
        )

    def bulk_records(self, plan: BulkPlan, start: int = 0, count: int = 500) -> list[BulkRecord]:
        """Records ``start`` to ``start + count`` of the plan's, in its order, by name."""
        return records_of(plan.action, list(plan.ids[start : start + count]))

    def last_bulk_change(self) -> tuple[BulkAction, Selection] | None:
        """The newest bulk change this directory's actor made (through its
        channel), as the action it was and the records it changed; None if
        it made none. All of one bulk change share one time in the history."""
        actor = self.actor
        mine = (ChangeRecord.who == actor.who) & (ChangeRecord.channel == actor.channel)
        newest = (
            ChangeRecord.select()
            .where(mine & ChangeRecord.action.in_(BULK_HISTORY))
            .order_by(ChangeRecord.at.desc(), ChangeRecord.id.desc())
            .first()
        )
        if newest is None:
            return None
        try:
            changes = json.loads(newest.changes or "[]")
        except ValueError:
            changes = []
        done = _action_of(newest.action, changes)
        if done is None:
            return None
        same = ChangeRecord.select(ChangeRecord.customer_id, ChangeRecord.contact_id).where(
            mine & (ChangeRecord.at == newest.at) & (ChangeRecord.action == newest.action)
        )
        rows = list(same.tuples())
        if done.on_customers:
            return done, Selection.of_customers(customer_id for customer_id, _ in rows)
        return done, Selection.of_contacts(contact_id for _, contact_id in rows if contact_id is not None)

    def _check_action(self, selection: Selection, action: BulkAction) -> None:
        if action.category is not None:
            clean_categories([action.category], self.catalog)
        if action.on_customers and selection.contact_ids:
            raise ValidationError.single(None, f"contact persons cannot be {action.verb}d: choose customers")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
