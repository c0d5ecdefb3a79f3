"""The request's context: what a game server says about the call (app_version,
platform, locale...), for campaigns' `where` conditions on `context.<key>`.

Never stored. Checked before anything is read, bounded so that a call cannot make
matching slow or large: at most MAX_KEYS keys, each a name a condition can write
(`context.<key>` splits on dots, so a key has none), each value at most
MAX_VALUE_BYTES as JSON. A bad context is InvalidInput naming the key, as
`context["app version"]`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from services.domain.errors import InvalidInput
from services.domain.profile import JSONValue

MAX_KEYS: Final = 32
MAX_KEY_LENGTH: Final = 64
MAX_VALUE_BYTES: Final = 1024
_KEY: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
NO_CONTEXT: Final[Mapping[str, JSONValue]] = MappingProxyType({})


def validate_context(context: Mapping[str, JSONValue] | None) -> Mapping[str, JSONValue]:
    """`context` as matching reads it (None: empty); InvalidInput naming the key."""
    if not context:
        return NO_CONTEXT
    if len(context) > MAX_KEYS:
        raise InvalidInput("context", f"at most {MAX_KEYS} keys, got {len(context)}")
    for key, value in context.items():
        field = f"context[{json.dumps(key)}]"
        if len(key) > MAX_KEY_LENGTH:
            raise InvalidInput(field, f"a key is at most {MAX_KEY_LENGTH} characters")
        if not _KEY.fullmatch(key):
            raise InvalidInput(
                field,
                "a key is letters, digits, '_' and '-', starting with a letter or '_'",
            )
        problem = _value_problem(value)
        if problem is not None:
            raise InvalidInput(field, problem)
    return MappingProxyType(dict(context))


def _value_problem(value: Any) -> str | None:
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False)
    except ValueError:
        return "numbers must be finite"
    except TypeError as exc:  # not JSON at all: a caller's bug, named anyway
        return f"must be a JSON value ({exc})"
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_VALUE_BYTES:
        return f"a value is at most {MAX_VALUE_BYTES} bytes as JSON, got {size}"
    return None
