"""Builds the profile store a process was configured with, from one URI string.

- None or "": an in-memory SQLite store (nothing to install, nothing kept).
- `mongodb://...` or `mongodb+srv://...`: MongoDB; the database is the URI's path
  (default "profilematcher"), the collection "profiles".
- any other text without a scheme: a SQLite file at that path (":memory:" too).
"""

from __future__ import annotations

import re

from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import ConfigurationError, InvalidName

from profilematcher.profiles.v1 import profile_pb2
from services.storage.base import ServingStore
from services.storage.mongo_audience import DEFAULT_READ_PREFERENCE, read_preference_named
from services.storage.mongo_documents import Document
from services.storage.mongo_store import (
    DEFAULT_COLLECTION,
    DEFAULT_DATABASE,
    MongoProfileStore,
    mongo_client,
)
from services.storage.sqlite_store import SQLiteProfileStore

MONGODB_SCHEMES = ("mongodb://", "mongodb+srv://")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# What a host list and a database name may look like; anything else is not printed.
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.%]+\]|[A-Za-z0-9.\-_%]+)(:[0-9]{1,5})?$")
_DATABASE = re.compile(r"^[A-Za-z0-9_\-]+$")


def open_store(
    uri: str | None,
    *,
    timeout: float = 2.0,
    audience_read_preference: str = DEFAULT_READ_PREFERENCE,
) -> ServingStore[profile_pb2.Profile]:
    """The store for `uri`, ready to serve.

    `timeout` (seconds) bounds how long MongoDB may take to be found and the default
    time of each call. For MongoDB the collection's layout is checked here, so an
    unreachable server fails start-up with DependencyUnavailable, and a collection in
    the previous layout with StoreLayoutError (a ValueError naming `profile-matcher
    migrate-store`). A malformed URI raises ValueError (its text never includes the
    credentials). `audience_read_preference` is MongoDB's (mongo_audience.py); the
    embedded store has no replicas. No index is built: the player id is `_id`.
    """
    if not uri:
        return SQLiteProfileStore.in_memory(timeout=timeout)
    if uri.startswith(MONGODB_SCHEMES):
        return _open_mongo(uri, timeout, audience_read_preference)
    if _SCHEME.match(uri):
        raise ValueError(
            f"unsupported store URI scheme in {describe_store(uri)!r}: use mongodb://,"
            " mongodb+srv://, or a file path for SQLite"
        )
    return SQLiteProfileStore.open(uri, timeout=timeout)


def _open_mongo(uri: str, timeout: float, audience_read_preference: str) -> MongoProfileStore:
    read_preference_named(audience_read_preference)  # before a client is made
    _, database = mongo_database(uri, timeout=timeout)
    store = MongoProfileStore(
        database[DEFAULT_COLLECTION],
        owns_client=True,
        audience_read_preference=audience_read_preference,
    )
    try:
        store.check_layout()
    except BaseException:
        store.close()
        raise
    return store


def mongo_database(
    uri: str, *, timeout: float, operation_timeout: float | None = None
) -> tuple[MongoClient[Document], Database[Document]]:
    """The client for a mongodb:// URI and the database it names (default
    "profilematcher"); the caller closes the client. ValueError for a malformed URI,
    without the credentials. `operation_timeout` (default `timeout`) is the client's
    timeoutMS."""
    try:
        client = mongo_client(
            uri,
            server_selection_timeout=timeout,
            operation_timeout=timeout if operation_timeout is None else operation_timeout,
        )
    except (ConfigurationError, ValueError) as exc:
        # pymongo raises a bare ValueError for some host and port mistakes.
        raise ValueError(f"invalid MongoDB URI {describe_store(uri)!r}: {_redacted(exc)}") from None
    try:
        return client, client.get_default_database(default=DEFAULT_DATABASE)
    except (ConfigurationError, InvalidName) as exc:
        client.close()
        raise ValueError(f"invalid MongoDB URI {describe_store(uri)!r}: {_redacted(exc)}") from None


def _redacted(exc: Exception) -> str:
    # pymongo quotes the offending piece of the URI, which can be a password (a
    # "port" of "mongodb://user:secret"): drop every quoted part.
    return re.sub(r"'[^']*'|\"[^\"]*\"", "'<redacted>'", str(exc))


def describe_store(uri: str | None) -> str:
    """A one-line description of the store for logs, without credentials or options.

    For MongoDB only the host list and database are shown, and only when they look
    like a host list and a database name: a malformed URI is described, not echoed.
    """
    if not uri:
        return "in-memory SQLite"
    for scheme in MONGODB_SCHEMES:
        if uri.startswith(scheme):
            return f"MongoDB {_mongo_location(scheme, uri[len(scheme) :])}"
    if _SCHEME.match(uri):
        return f"unsupported store {uri.split('://', 1)[0]}://<redacted>"
    if uri == ":memory:":
        return "in-memory SQLite"
    return f"SQLite file {uri}"


def _mongo_location(scheme: str, rest: str) -> str:
    # Credentials sit before the last "@"; options (which can hold key passwords)
    # after the first "?". Everything outside the host list and path is dropped.
    after_credentials = rest.rpartition("@")[2]
    location = re.split(r"[?#]", after_credentials, maxsplit=1)[0]
    hosts, _, path = location.partition("/")
    if not all(_HOST.match(host) for host in hosts.split(",")):
        return f"{scheme}<redacted>"
    database = path or DEFAULT_DATABASE
    if not _DATABASE.match(database):
        database = "<redacted>"
    return f"{scheme}{hosts}/{database}"
