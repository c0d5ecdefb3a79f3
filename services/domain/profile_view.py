"""A Profile read as its document, field by field: what conditions read of a profile.

`ProfileView(profile)` is the Mapping `profile_to_document(profile)` would return,
without building it: a condition asks for a few keys (`level`, `_tier`), and only
those are converted, each once. For the dry run and the engine's callers that hold
a domain Profile; serving reads the stored message through its own view
(services/codecs/profile_view.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from services.domain.profile import Profile
from services.domain.profile_fields import KNOWN_FIELDS
from services.domain.profile_json import document_value

_KNOWN = frozenset(KNOWN_FIELDS)
# Absent from the document, and not read yet: two markers, so absence is cached too.
ABSENT: Any = object()
_UNREAD: Any = object()


class LazyDocument(Mapping[str, Any]):
    """A profile's document read field by field, each field once: subclasses say how
    one field is read (`_read`, ABSENT when the document has no such key) and which
    keys there may be (`_keys`)."""

    __slots__ = ("_cache",)

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        # Overridden for speed: Mapping.get goes through a KeyError per absent field.
        value = self._cache.get(key, _UNREAD)
        if value is _UNREAD:
            value = self._cache[key] = self._read(key)
        return default if value is ABSENT else value

    def __getitem__(self, key: str) -> Any:
        value = self.get(key, ABSENT)
        if value is ABSENT:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        return (key for key in self._keys() if key in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key, ABSENT) is not ABSENT

    def _read(self, key: str) -> Any:
        raise NotImplementedError

    def _keys(self) -> Iterable[str]:
        raise NotImplementedError


class ProfileView(LazyDocument):
    """`profile_to_document(profile)` as a lazy, read-only Mapping (unset fields absent)."""

    __slots__ = ("_profile",)

    def __init__(self, profile: Profile) -> None:
        super().__init__()
        self._profile = profile

    def _keys(self) -> Iterable[str]:
        return (*KNOWN_FIELDS, *self._profile.custom_fields)

    def _read(self, key: str) -> Any:
        profile = self._profile
        if key == "player_id":
            return profile.player_id
        if key in _KNOWN:
            value = document_value(profile, key)
            return ABSENT if value is None else value
        return profile.custom_fields.get(key, ABSENT)
