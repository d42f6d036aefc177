"""The tagging rules in their order: a few dozen rows at most, so all of them."""

from __future__ import annotations

from rich.text import Text

from contacts_tui.core.tagging.rule import TaggingRule

from ..format import cell
from .paged_table import PagedTable


class RuleTable(PagedTable):
    """Number, on or off, category and conditions of every tagging rule."""

    COLUMNS = (("number", "#", 3), ("on", "On", 3), ("category", "Category", 17), ("conditions", "Conditions", 0))

    def cells(self, rule: TaggingRule) -> list[Text]:
        # A rule that is off is dimmed: the relay does not use it.
        style = "" if rule.enabled else "dim"
        return [
            cell(str(rule.number), style),
            cell("on" if rule.enabled else "off", "bold" if rule.enabled else style),
            cell(rule.category, style),
            cell(rule.describe(), style),
        ]
