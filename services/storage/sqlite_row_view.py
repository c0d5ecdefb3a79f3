"""An embedded store's row read as the profile's document, field by field.

A row holds the Profile message without its custom fields, and the custom fields as
JSON text beside it (sqlite_rows says why). The message's fields read as MessageView
reads them (codecs/profile_view.py); a custom field comes from the row's JSON, parsed
the first time one is asked for, so a scan whose condition reads no custom field
never parses any. The whole reads as `profile_to_document` of the profile the row
holds, as the MongoDB store would keep it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from profilematcher.profiles.v1 import profile_pb2
from services.codecs.profile_view import MessageView
from services.domain.profile_fields import KNOWN_FIELDS


class StoredRowView(MessageView):
    """The document of one row: `message` without custom fields, `custom` the row's
    custom fields as JSON text (None: none). A custom field's JSON that does not parse
    raises orjson.JSONDecodeError when a custom field is first read."""

    __slots__ = ("_custom", "_custom_text")

    def __init__(self, message: profile_pb2.Profile, custom: str | None) -> None:
        super().__init__(message)
        self._custom_text = custom
        self._custom: dict[str, Any] | None = None

    def get(self, key: str, default: Any = None) -> Any:
        if key[:1] == "_":
            # A custom field may hold null, which MongoDB tells from no field.
            return self._customs().get(key, default)
        return super().get(key, default)

    def _customs(self) -> dict[str, Any]:
        custom = self._custom
        if custom is None:
            text = self._custom_text
            parsed = orjson.loads(text) if text is not None else {}
            custom = self._custom = parsed if isinstance(parsed, dict) else {}
        return custom

    def _keys(self) -> Iterable[str]:
        return (*KNOWN_FIELDS, *self._customs())
