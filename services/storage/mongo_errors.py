"""pymongo's errors as the domain's: the one place that knows them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from bson.errors import InvalidDocument
from pymongo.errors import (
    BulkWriteError,
    ConfigurationError,
    ConnectionFailure,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)

from services.domain.errors import DependencyTimeout, DependencyUnavailable, InvalidInput

_MAX_DETAIL = 300
# `scheme://user:password@` as it may appear inside a driver message.
_USERINFO = re.compile(r"(?<=//)[^/@\s]+@")


def _detail(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    text = _USERINFO.sub("***@", text)
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."


@contextmanager
def mongo_errors(action: str) -> Iterator[None]:
    """Maps pymongo's errors to the domain's: the one place that knows them.

    `action` says what was being attempted ("read a profile"); it and a trimmed driver
    message, with any `user:password@` removed, make the error's text: the detail, for
    the log. A client is told only the action and how the store failed.
    """
    # What a client is told; the detail (hosts, the driver's words) goes to the log.
    unreachable = f"could not {action}: the profile store is unreachable"
    refused = f"could not {action}: the profile store refused it"
    failed = f"could not {action}: the profile store failed"
    try:
        yield
    except (InvalidDocument, OverflowError) as exc:
        # BSON cannot hold the value (e.g. an integer beyond 64 bits in a custom field).
        raise InvalidInput("profile", f"cannot be stored in MongoDB: {_detail(exc)}") from exc
    except ServerSelectionTimeoutError as exc:
        # Its `timeout` is True too, but no server being reachable is an outage, not a
        # slow answer: report it as unavailable.
        raise DependencyUnavailable(
            f"MongoDB unreachable, could not {action}: {_detail(exc)}", public=unreachable
        ) from exc
    except PyMongoError as exc:
        if exc.timeout:
            raise DependencyTimeout(
                f"MongoDB did not answer in time, could not {action}: {_detail(exc)}",
                public=f"could not {action}: the profile store did not answer in time",
            ) from exc
        if isinstance(exc, BulkWriteError):
            errors = exc.details.get("writeErrors") or [{}]
            first = errors[0]
            raise DependencyUnavailable(
                f"MongoDB refused to {action}: {first.get('errmsg', 'bulk write failed')}"
                f" (code {first.get('code')}, {len(errors)} failed)",
                public=refused,
            ) from exc
        if isinstance(exc, OperationFailure):
            # The server's own errmsg, without pymongo's ", full error: {...}" dump.
            message = (exc.details or {}).get("errmsg") or _detail(exc)
            raise DependencyUnavailable(
                f"MongoDB refused to {action}: {_USERINFO.sub('***@', str(message))}"
                f" (code {exc.code})",
                public=refused,
            ) from exc
        if isinstance(exc, ConnectionFailure):
            raise DependencyUnavailable(
                f"MongoDB connection failed, could not {action}: {_detail(exc)}",
                public=unreachable,
            ) from exc
        if isinstance(exc, ConfigurationError):
            raise DependencyUnavailable(
                f"MongoDB cannot be used, could not {action}: {_detail(exc)}",
                public=failed,
            ) from exc
        raise DependencyUnavailable(
            f"MongoDB error, could not {action}: {_detail(exc)}", public=failed
        ) from exc
