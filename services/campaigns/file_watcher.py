"""Follows the catalog file: polls its metadata and reloads it when it changes.

`CatalogFileWatcher` is the only writer of the `ServedCatalog`: each changed file
that loads becomes the new version.

Polling with `os.stat` needs no dependency and works the same on every filesystem,
including bind mounts and network volumes where change notifications are unreliable.
`os.stat` follows symlinks, which a Kubernetes ConfigMap mount needs: kubelet swaps
the `..data` link the file's path goes through to a new directory, so the path stays
and the file behind it (its inode) changes (tests/campaigns/test_configmap_reload.py).
A file that fails to load is logged with its problems and the last good catalog stays
in service; a later fix is picked up by the next poll.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, Protocol

from services.campaigns.catalog import build_catalog
from services.campaigns.catalog_file import load_catalog_parts
from services.campaigns.errors import CatalogError
from services.campaigns.served_catalog import ServedCatalog

log = logging.getLogger(__name__)

DEFAULT_POLL_INTERVAL = 0.2
# A file modified this recently may be modified again within the filesystem's
# timestamp granularity with the same size (and, after a rename, a recycled inode),
# which its signature cannot show. Until it is older than this, every poll rereads
# it; the version hash makes a reread with unchanged content a no-op.
_SETTLE_NS = 2_000_000_000


class FileSignature(NamedTuple):
    device: int
    inode: int
    size: int
    mtime_ns: int


def file_signature(path: Path) -> FileSignature | None:
    """What a change of the file changes; None when the file cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return FileSignature(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class ReloadObserver(Protocol):
    def reloaded(self, result: str) -> None:
        """A changed file was read: "ok" (new version), "unchanged" or "error"."""
        ...


class CatalogFileWatcher:
    """Watches the catalog file and reloads it into a `ServedCatalog` when it changes:
    a daemon thread polls `path` every `interval` seconds.

    `seen` is the signature of the file as it was loaded before the watcher started
    (taken before reading it, so a change during that read is not missed).
    """

    def __init__(
        self,
        path: Path,
        served: ServedCatalog,
        *,
        interval: float = DEFAULT_POLL_INTERVAL,
        seen: FileSignature | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
        observer: ReloadObserver | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"poll interval must be positive, got {interval}")
        self._path = path
        self._served = served
        self._interval = interval
        self._seen = seen
        self._clock_ns = clock_ns
        self._observer = observer
        self._unsettled = seen is not None and self._is_recent(seen)
        self._last_problems: list[str] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"catalog-file-watcher:{path.name}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stops polling and waits for the thread; safe to call more than once."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def poll(self) -> None:
        """Checks the file once and reloads it if it changed."""
        signature = file_signature(self._path)
        if signature is None:
            if self._seen is not None:
                self._observed("error")
                log.warning(
                    "%s: cannot stat the catalog file; still serving version %s",
                    self._path,
                    self._served.current.catalog.version,
                )
            self._seen = None
            return
        if signature == self._seen and not self._unsettled:
            return
        self._seen = signature
        self._unsettled = self._is_recent(signature)
        try:
            parts = load_catalog_parts(self._path)
        except CatalogError as exc:
            self._observed("error")
            # Logged once per distinct set of problems, not on every poll of a file
            # that is still being rewritten.
            if exc.problems != self._last_problems:
                log.error(
                    "catalog file %s not reloaded, still serving version %s:\n  %s",
                    self._path,
                    self._served.current.catalog.version,
                    "\n  ".join(exc.problems),
                )
            self._last_problems = exc.problems
            return
        self._last_problems = None
        catalog = build_catalog(*parts)
        replaced = self._served.replace(catalog)
        self._observed("ok" if replaced else "unchanged")
        if replaced:
            log.info(
                "catalog reloaded from %s: version %s, %d campaigns",
                self._path,
                catalog.version,
                len(catalog.campaigns),
            )

    def _observed(self, result: str) -> None:
        if self._observer is not None:
            self._observer.reloaded(result)

    def _is_recent(self, signature: FileSignature) -> bool:
        return self._clock_ns() - signature.mtime_ns < _SETTLE_NS

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.poll()
            except Exception:
                # A bug here must not end reloading for the life of the process.
                log.exception("unexpected error while reloading %s", self._path)
