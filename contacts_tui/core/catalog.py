"""The notification catalog: categories a contact person opts in to, and the
email types inside them.

A message's ``X-Notification-Category`` value is either a category key or an
email type key; both resolve to a category here, case-insensitively.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .controls import has_control
from .errors import CatalogError

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
# "all" is how the CSV spells receive-all, so no category may take it.
RESERVED_KEYS = frozenset({"all"})


@dataclass(frozen=True, slots=True)
class EmailType:
    key: str
    label: str


@dataclass(frozen=True, slots=True)
class Category:
    key: str
    label: str
    description: str
    types: tuple[EmailType, ...]


@dataclass(frozen=True)
class Catalog:
    categories: tuple[Category, ...]
    keys: tuple[str, ...] = ()  # derived: category keys in catalog order
    _lookup: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)
    """Derived: a category or email type key (lower case) -> its category key."""

    def __post_init__(self) -> None:
        lookup: dict[str, str] = {}
        for category in self.categories:
            lookup[category.key] = category.key
            for email_type in category.types:
                lookup[email_type.key] = category.key
        object.__setattr__(self, "_lookup", lookup)
        object.__setattr__(self, "keys", tuple(c.key for c in self.categories))

    def get(self, key: str) -> Category | None:
        return next((c for c in self.categories if c.key == key), None)

    def resolve(self, value: str | None) -> str | None:
        """The category key for a header value (category or type key), or None."""
        if not value:
            return None
        return self._lookup.get(value.strip().lower())

    def sort_keys(self, keys: set[str] | frozenset[str] | tuple[str, ...]) -> tuple[str, ...]:
        """Keys in catalog order; keys the catalog no longer knows come last."""
        order = {key: i for i, key in enumerate(self.keys)}
        return tuple(sorted(keys, key=lambda k: (order.get(k, len(order)), k)))


def load_catalog(path: str | Path | None) -> Catalog:
    """The catalog from a TOML file, or the default catalog when path is None.

    The shipped ones (``catalogs/*.toml``) are written the same way.

    File format::

        [categories.billing]
        label = "Billing"                      # optional
        description = "Invoices and payments"  # optional
        types = ["invoice.created", "payment.received"]
        # or: types = { "invoice.created" = "Invoice created" }
    """
    if path is None:
        return DEFAULT_CATALOG
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogError(f"catalog file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"catalog file {path} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"catalog file {path} is not valid TOML: {exc}") from None
    return parse_catalog(data, str(path))


def parse_catalog(data: dict, source: str = "catalog") -> Catalog:
    """Build and check a catalog from parsed TOML data."""
    tables = data.get("categories")
    if not isinstance(tables, dict) or not tables:
        raise CatalogError(f"{source}: needs at least one [categories.KEY] table")
    unknown = set(data) - {"categories"}
    if unknown:
        raise CatalogError(f"{source}: unknown top-level key(s) {', '.join(sorted(unknown))}")
    seen: dict[str, str] = {}
    categories = []
    for key, table in tables.items():
        where = f"{source}: [categories.{key}]"
        _check_key(key, where, seen)
        if not isinstance(table, dict):
            raise CatalogError(f"{where} must be a table")
        extra = set(table) - {"label", "description", "types"}
        if extra:
            raise CatalogError(f"{where}: unknown field(s) {', '.join(sorted(extra))}")
        label = _text(table.get("label", key.replace("_", " ").title()), f"{where} label")
        description = _text(table.get("description", ""), f"{where} description")
        types = []
        raw_types = table.get("types", [])
        if isinstance(raw_types, list):
            pairs = [(t, t) for t in raw_types]
        elif isinstance(raw_types, dict):
            pairs = list(raw_types.items())
        else:
            raise CatalogError(f"{where}: types must be a list of keys or a table of key = label")
        for type_key, type_label in pairs:
            if not isinstance(type_key, str):
                raise CatalogError(f"{where}: type {type_key!r} must be a string")
            _check_key(type_key, f"{where} type {type_key!r}", seen)
            types.append(EmailType(type_key, _text(type_label, f"{where} type {type_key}")))
        categories.append(Category(key, label, description, tuple(types)))
    return Catalog(tuple(categories))


def _check_key(key: str, where: str, seen: dict[str, str]) -> None:
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        raise CatalogError(f"{where}: key {key!r} must be lowercase letters, digits, '.', '_' or '-' (at most 64)")
    if key in RESERVED_KEYS:
        raise CatalogError(f"{where}: {key!r} is reserved (it means 'receive all')")
    if key in seen:
        raise CatalogError(f"{where}: key {key!r} is already used by {seen[key]}")
    seen[key] = where


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise CatalogError(f"{where} must be a string")
    if has_control(value):
        raise CatalogError(f"{where} contains control characters")
    return value.strip()


PRESETS = ("payrequest", "herotill", "perfex")
"""Catalogs of the products this one replaces, shipped in ``catalogs/``."""
DEFAULT_PRESET = "payrequest"


def load_preset(name: str) -> Catalog:
    """A catalog shipped with the package, by name."""
    if name not in PRESETS:
        raise CatalogError(f"there is no catalog named {name!r}; the shipped ones are {', '.join(PRESETS)}")
    text = (resources.files(__package__) / "catalogs" / f"{name}.toml").read_text(encoding="utf-8")
    return parse_catalog(tomllib.loads(text), f"the {name} catalog")


DEFAULT_CATALOG = load_preset(DEFAULT_PRESET)


def choose_catalog(value: str) -> tuple[str, Catalog]:
    """``--catalog``: a shipped catalog's name, or a TOML file; returns (name, catalog).

    A name of the list wins over a file of that name in the current folder;
    ``./payrequest`` names the file.
    """
    value = value.strip()
    if value.lower() in PRESETS:
        return value.lower(), load_preset(value.lower())
    if not Path(value).exists() and "/" not in value and not value.endswith(".toml"):
        raise CatalogError(f"{value!r} is neither a shipped catalog ({', '.join(PRESETS)}) nor a file")
    return value, load_catalog(value)


def catalog_data(catalog: Catalog) -> dict:
    """The catalog as data that ``parse_catalog`` reads back as an equal catalog (to store it)."""
    return {
        "categories": {
            c.key: {"label": c.label, "description": c.description, "types": {t.key: t.label for t in c.types}}
            for c in catalog.categories
        }
    }
