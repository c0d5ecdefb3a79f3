"""Which paths a condition may read, and how each is split into keys.

At the top of a condition, a path is one of:
- a profile field as games store it: the scalars (`level`, `country`, `created`...),
  `clan` with `clan.id` and `clan.name`, `devices` with `devices.id`, `devices.model`,
  `devices.carrier` and `devices.firmware` (devices is an array, so these read every
  device), `inventory` and `inventory.<item>`;
- a custom field, `_name`, with any sub-path into its JSON (`_stats.wins`, `_tags.0`);
- `context.<key>`, with any sub-path: the request's context.
`credential` (a secret) and `active_campaigns` (what matching computes) are not readable.

Inventory is a flat map whose item names may hold dots, so everything after
`inventory.` is one item name (MongoDB would read `inventory.a.b` as a nested path;
the store cannot evaluate such an item, see mongo_filter.py).

Inside `$elemMatch` (query form), paths are relative to the array's elements: for
`devices`, one of `id`, `model`, `carrier`, `firmware`; for custom and context arrays,
any path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from services.domain.conditions.errors import ConditionError
from services.domain.profile_fields import KNOWN_FIELDS

Root = Literal["profile", "context", "element"]

_HIDDEN: Final = {
    "credential": "is a secret, not available to conditions",
    "active_campaigns": "is what matching computes, so it cannot be a condition",
}
_READABLE: Final = tuple(name for name in KNOWN_FIELDS if name not in _HIDDEN)
_DEVICE_FIELDS: Final = frozenset({"id", "model", "carrier", "firmware"})
_SUB_FIELDS: Final[dict[str, frozenset[str]]] = {
    "clan": frozenset({"id", "name"}),
    "devices": _DEVICE_FIELDS,
}
_RESERVED_CUSTOM: Final = frozenset({"_id"})


@dataclass(frozen=True, slots=True)
class Path:
    """A validated path. `keys` are what to look up from `root` (the profile, the
    request's context, or an array element), one key per level."""

    text: str
    root: Root
    keys: tuple[str, ...]
    # Whether the value found there may be an array ($elemMatch is refused otherwise).
    may_be_array: bool
    # For `$elemMatch` query documents on this path: the keys their paths may use
    # (None: any path).
    element_fields: frozenset[str] | None = None


def profile_path(text: str, clause: str) -> Path:
    """The path `text` read from the profile or the context; ConditionError otherwise."""
    _check_text(text, clause)
    head, dot, rest = text.partition(".")
    if not head or (dot and not rest):
        raise ConditionError(clause, f"path {text!r} has an empty part")
    if head == "context":
        if not rest:
            raise ConditionError(clause, "'context' needs a key: context.<key>")
        return Path(text, "context", _split(rest, clause), may_be_array=True)
    if head.startswith("_"):
        if len(head) < 2 or head in _RESERVED_CUSTOM or "$" in head:
            raise ConditionError(clause, f"{head!r} is not a custom field name")
        keys = (head, *_split(rest, clause)) if rest else (head,)
        return Path(text, "profile", keys, may_be_array=True)
    if head in _HIDDEN:
        raise ConditionError(clause, f"{head} {_HIDDEN[head]}")
    if head not in _READABLE:
        raise ConditionError(
            clause,
            f"unknown field {head!r}: conditions read the profile's fields "
            f"({', '.join(_READABLE)}), custom fields starting with '_', or context.<key>",
        )
    if not rest:
        return Path(text, "profile", (head,), head == "devices", _SUB_FIELDS.get(head))
    if head == "inventory":
        return Path(text, "profile", (head, rest), may_be_array=False)
    allowed = _SUB_FIELDS.get(head)
    if allowed is None or rest not in allowed:
        known = f"one of {', '.join(sorted(allowed))}" if allowed else "none"
        raise ConditionError(clause, f"{head!r} has no field {rest!r} (sub-fields: {known})")
    return Path(text, "profile", (head, rest), may_be_array=False)


def element_path(text: str, clause: str, fields: frozenset[str] | None) -> Path:
    """A path inside an `$elemMatch` query, relative to the element."""
    _check_text(text, clause)
    if fields is not None:
        if text not in fields:
            raise ConditionError(
                clause, f"unknown field {text!r} (element fields: {', '.join(sorted(fields))})"
            )
        return Path(text, "element", (text,), may_be_array=False)
    return Path(text, "element", _split(text, clause), may_be_array=True)


def _check_text(text: str, clause: str) -> None:
    if not text:
        raise ConditionError(clause, "a path must not be empty")
    if "\0" in text:
        raise ConditionError(clause, "a path must not contain NUL")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ConditionError(clause, "a path must be valid Unicode") from None


def _split(text: str, clause: str) -> tuple[str, ...]:
    keys = tuple(text.split("."))
    for key in keys:
        if not key:
            raise ConditionError(clause, f"path {text!r} has an empty part")
        if key.startswith("$"):
            raise ConditionError(clause, f"path part {key!r} must not start with '$'")
    return keys
