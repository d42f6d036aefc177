"""What the relay counts for Prometheus (``serve --metrics HOST:PORT``).

Names and labels follow Prometheus' conventions: ``contacts_relay_`` first,
``_total`` on counters, ``_seconds`` on durations, label values from one
fixed list (``contacts_tui.core.mail.verdict.Label``). The components record through ``metrics.current``, which does
nothing until ``enable`` makes it real, so a relay without --metrics pays a
no-op call. With several workers every process writes its values to files
in a shared directory, and the supervisor's endpoint adds them up
(prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Literal

from contacts_tui.core.mail.verdict import Label, Verdict

# How the supervisor's endpoint adds up a gauge over the workers (prometheus-client's names).
GaugeMode = Literal[
    "livesum", "livemax", "livemin", "liveall", "sum", "max", "min", "all", "mostrecent", "livemostrecent"
]


class _Nothing:
    """Stands in for every metric while metrics are off."""

    def labels(self, *args: Any, **kwargs: Any) -> _Nothing:
        return self

    def inc(self, amount: float = 1) -> None:
        pass

    def dec(self, amount: float = 1) -> None:
        pass

    def set(self, value: float) -> None:
        pass

    def observe(self, value: float) -> None:
        pass


class Metrics:
    def __init__(self, registry=None) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        def counter(name: str, text: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(f"contacts_relay_{name}", text, labels, registry=registry)

        def gauge(name: str, text: str, labels: tuple[str, ...] = (), mode: GaugeMode = "livesum") -> Gauge:
            # mode: how the supervisor's endpoint adds up the workers' values.
            return Gauge(f"contacts_relay_{name}", text, labels, registry=registry, multiprocess_mode=mode)

        def histogram(name: str, text: str, buckets: tuple[float, ...]) -> Histogram:
            return Histogram(f"contacts_relay_{name}", text, registry=registry, buckets=buckets)

        quick = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
        self.received = counter("messages_received_total", "Messages whose DATA the relay read to the end.")
        self.refused = counter(
            "messages_refused_total", "Messages refused with a 4xx or 5xx reply, by reason.", ("reason",)
        )
        self.rewritten = counter(
            "messages_rewritten_total",
            "Messages taken with contact persons added, by where they went (cc, envelope).",
            ("added_to",),
        )
        self.unchanged = counter(
            "messages_unchanged_total", "Messages taken and passed on unchanged, by reason.", ("reason",)
        )
        self.contacts_added = counter("contacts_added_total", "Contact persons added to messages.")
        self.tagged = counter(
            "messages_tagged_total", "Messages without a category header that a tagging rule gave one."
        )
        self.attempts = counter(
            "delivery_attempts_total", "Delivery attempts, by what came of the message.", ("result",)
        )
        self.replies = counter(
            "delivery_replies_total",
            "Replies per recipient, by class (2xx, 4xx, 5xx, local) and upstream (HOST:PORT).",
            ("reply_class", "upstream"),
        )
        self.upstream_up = gauge(
            "upstream_up",
            "1 while an upstream is tried, 0 while it is passed over after it could not be reached.",
            ("upstream",),
            "livemin",
        )
        self.rate_wait = counter(
            "upstream_rate_wait_seconds_total",
            "Seconds transactions waited for their turn under --upstream-rate, by upstream.",
            ("upstream",),
        )
        self.queue = gauge(
            "queue_messages", "Messages in the spool, by state (new, deferred) and worker.", ("state", "worker")
        )
        self.oldest = gauge(
            "queue_oldest_seconds", "Age of the oldest message waiting in the spool (0: none).", mode="livemax"
        )
        self.sessions = gauge("sessions", "Open SMTP sessions.")
        self.accept = histogram("accept_seconds", "From the end of DATA to the reply (250 after the fsync).", quick)
        self.lookup = histogram("directory_lookup_seconds", "One directory lookup.", quick)
        self.commit = histogram("spool_commit_seconds", "One spool commit, written and fsync'd.", quick)
        self.delivery = histogram(
            "delivery_seconds",
            "From the relay taking a message to the upstream taking it.",
            (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300, 3600, 86400),
        )


class _Off:
    """``current`` while metrics are off: every metric does nothing."""

    def __getattr__(self, name: str) -> _Nothing:
        return _NOTHING


_NOTHING = _Nothing()
current: Any = _Off()


def enabled() -> bool:
    return isinstance(current, Metrics)


def enable(multiprocess_dir: str | None = None):
    """Start counting; returns the registry to serve.

    With ``multiprocess_dir`` this process (a worker) writes its values there
    for the supervisor, which serves them all (see ``multiprocess_registry``).
    """
    global current
    from prometheus_client import CollectorRegistry

    if multiprocess_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = multiprocess_dir
        from prometheus_client import values

        values.ValueClass = values.get_value_class()
    registry = CollectorRegistry()
    current = Metrics(registry)
    return registry


def multiprocess_registry(directory: str):
    """A registry that adds up what the workers wrote to ``directory``."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    return registry


def forget_process(directory: str, pid: int) -> None:
    """A worker died: its live gauges (sessions, queue) no longer count."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, path=directory)


def count_message(verdicts: Sequence[Verdict]) -> None:
    """Count a message the relay took, once whatever the number of its copies (one verdict each)."""
    if verdicts and verdicts[0].tagged:  # every copy of a message was tagged by the same rule
        current.tagged.inc()
    added = [verdict for verdict in verdicts if verdict.added]
    if added:
        where = Label.CC if any(verdict.label is Label.CC for verdict in added) else Label.ENVELOPE
        current.rewritten.labels(where).inc()
        current.contacts_added.inc(sum(len(verdict.added) for verdict in added))
    elif verdicts:
        # A message that adds nobody goes out as one copy.
        current.unchanged.labels(verdicts[0].label).inc()


def count_refusal(label: Label | None) -> None:
    if label is not None:
        current.refused.labels(label).inc()


def reply_class(code: int | None) -> str:
    return "local" if code is None else f"{code // 100}xx"
