"""Sentences of the core that a customer may read in another language.

The core says everything in English: the admin TUI, the CLI, imports and
logs show it as it is. A sentence that can reach a customer in the portal
(a rule's refusal, a session that ended) is made as a ``Phrase``: the
English text, which is a ``str`` like any other for every caller, that also
remembers its template and arguments. The portal service sends both (the
protocol's ``phrase``), and the portal says the template in the customer's
language with the same arguments (core/portal/language.py).

The templates are the gettext catalog's message ids: a test collects every
``Phrase("...")`` and ``N_("...")`` of the code and fails while one has no
Dutch translation.
"""

from __future__ import annotations

from typing import Any

ARG_DEPTH = 3
"""How deep phrases may nest in arguments (a label inside a sentence): a
phrase read from the protocol deeper than this is taken as its text."""


def N_(message: str) -> str:
    """Mark ``message`` for translation where it is written, and leave it as
    it is: it is translated where it is shown (gettext's convention)."""
    return message


class Phrase(str):
    """English text made from ``template`` and ``args``, which knows both.

    ``args`` are data (names, addresses, counts), shown as they are in any
    language, or phrases themselves (the label "Name" in "Name is required"),
    which are translated too.
    """

    template: str
    args: dict[str, Any]

    def __new__(cls, template: str, /, **args: Any) -> Phrase:
        text = super().__new__(cls, template.format(**args))
        text.template = template
        text.args = args
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuilt, (self.template, self.args))

    def as_json(self) -> dict[str, Any]:
        """The template and arguments, for the portal service's protocol."""
        return {
            "template": self.template,
            "args": {
                name: value.as_json() if isinstance(value, Phrase) else value for name, value in self.args.items()
            },
        }

    def say(self, translate: Any) -> str:
        """This sentence with ``translate`` (gettext) applied to its template and
        to every phrase among its arguments; the English text if the
        translation does not fit the arguments."""
        args = {name: value.say(translate) if isinstance(value, Phrase) else value for name, value in self.args.items()}
        try:
            return translate(self.template).format(**args)
        except (KeyError, IndexError, ValueError, AttributeError):
            return str(self)


def _rebuilt(template: str, args: dict[str, Any]) -> Phrase:
    return Phrase(template, **args)


def phrase_from(data: Any, text: str, depth: int = 0) -> str:
    """A phrase read back from ``as_json``; ``text`` (the English the
    protocol carries beside it) when ``data`` is missing or not a phrase."""
    if not isinstance(data, dict) or depth > ARG_DEPTH:
        return text
    template, args = data.get("template"), data.get("args", {})
    if not isinstance(template, str) or not isinstance(args, dict):
        return text
    values: dict[str, Any] = {}
    for name, value in args.items():
        if isinstance(value, dict):
            value = phrase_from(value, "", depth + 1)
            if not isinstance(value, Phrase):
                return text
        elif not isinstance(value, (str, int, float, bool)) and value is not None:
            return text
        values[str(name)] = value
    try:
        return Phrase(template, **values)
    except (KeyError, IndexError, ValueError, AttributeError):
        return text
