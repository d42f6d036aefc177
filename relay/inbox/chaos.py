"""Mailpit's chaos triggers (``/api/v1/chaos``) over this relay's chaos rules.

Mailpit has three triggers: Sender (fails MAIL FROM), Recipient (fails RCPT
TO) and Authentication, each an error code and a probability in percent.
Here they are chaos rules at the MAIL and RCPT stages that match all mail
(no sender, recipient or category pattern, no delay), with Mailpit's reply
texts. Setting the triggers replaces those rules only: rules with patterns,
or at the DATA stage, made with ``contacts-relay chaos``, stay, and are
listed under ``Rules``. This relay takes mail without AUTH from the
networks it allows, so it has no authentication to fail.
"""

from __future__ import annotations

from typing import Any

from contacts_tui.core.errors import ValidationError
from contacts_tui.core.mail import chaos

TRIGGERS = {"Sender": ("mail", "Chaos sender error", 451), "Recipient": ("rcpt", "Chaos recipient error", 451)}


class ChaosRequestError(ValueError):
    """A PUT the triggers cannot be set from; the text says why."""


def _plain(rule: chaos.Rule, stage: str) -> bool:
    return rule.stage == stage and not (rule.sender or rule.recipient or rule.category or rule.delay)


def triggers_json(rules: list[chaos.Rule]) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for name, (stage, _text, default_code) in TRIGGERS.items():
        found = next((r for r in rules if _plain(r, stage)), None)
        shown[name] = (
            {"ErrorCode": int(found.reply[:3]), "Probability": round(found.probability * 100)}
            if found
            else {"ErrorCode": default_code, "Probability": 0}
        )
    shown["Authentication"] = {"ErrorCode": 535, "Probability": 0}
    shown["Rules"] = [
        {
            "ID": r.id,
            "Stage": r.stage,
            "Reply": r.reply,
            "Sender": r.sender,
            "Recipient": r.recipient,
            "Category": r.category,
            "Probability": r.probability,
            "Delay": r.delay,
            "Description": r.describe(),
        }
        for r in rules
    ]
    return shown


def _trigger(body: dict, name: str, default_code: int) -> tuple[int, int]:
    value = body.get(name) or {}
    if not isinstance(value, dict):
        raise ChaosRequestError(f"{name} must be an object with ErrorCode and Probability")
    code, chance = value.get("ErrorCode") or default_code, value.get("Probability") or 0
    if not isinstance(code, int) or not isinstance(chance, int) or isinstance(code, bool):
        raise ChaosRequestError(f"{name}: ErrorCode and Probability are whole numbers")
    if not 400 <= code <= 599:
        raise ChaosRequestError("error code must be between 400 and 599")
    if not 0 <= chance <= 100:
        raise ChaosRequestError("probability must be between 0 and 100")
    return code, chance


def set_triggers(body: Any) -> list[chaos.Rule]:
    """Replace the plain MAIL and RCPT rules with the triggers in ``body`` (omitted ones: off)."""
    if not isinstance(body, dict):
        raise ChaosRequestError("the body must be a JSON object of triggers")
    # Matched as Go matches JSON field names: case does not count.
    body = {str(key).capitalize(): value for key, value in body.items()}
    wanted = {name: _trigger(body, name, default) for name, (_stage, _text, default) in TRIGGERS.items()}
    _code, auth_chance = _trigger(body, "Authentication", 535)
    if auth_chance:
        raise ChaosRequestError(
            "this relay has no chaos at authentication: it takes mail without AUTH from the networks it allows"
        )
    new_rules = []
    for name, (code, chance) in wanted.items():
        stage, text, _default = TRIGGERS[name]
        if chance:
            try:
                new_rules.append(chaos.rule(stage, f"{code} {text}", probability=chance / 100))
            except ValidationError as exc:
                raise ChaosRequestError(str(exc)) from None
    for old in chaos.current_rules():
        if any(_plain(old, stage) for stage, _t, _d in TRIGGERS.values()) and old.id is not None:
            chaos.clear_rules(old.id)
    for new in new_rules:
        chaos.add_rule(new)
    return chaos.current_rules()
