"""Bulk changes: one action on many contact persons or customers, each record
checked by the directory's rules and recorded in the history as if it had
been changed on its own.

A bulk change is planned, then applied. ``plan_bulk`` goes through a
``Selection`` (records marked by id, or all that a search and filter show,
read a chunk at a time, never all at once) and checks every record: what
would change, what is so already, and what a rule refuses, with the record
and the reason. ``apply_bulk`` changes exactly the records the plan found,
in transactions of about ``BATCH`` records: each locks its customers, checks
its records again (another admin may have changed one meanwhile) and records
one history entry per record changed, all with the one time of the change.
Undoing is the inverse action on the records changed (``BulkResult.undo``),
recorded in the history like any change; ``last_bulk_change`` finds the
newest bulk change of this directory's actor in the history, for a command
line that has no memory of its own.
"""
