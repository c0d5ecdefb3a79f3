"""/metrics served from the caller's own loop, one request at a time, on no thread.

The parent of several worker processes serves their merged metrics this way: it runs
no thread at all, so that forking a worker again later is as safe as the first time
(a fork copies only the forking thread, and a lock another thread held would stay
locked in the child forever).
"""

from __future__ import annotations

import logging
import socket
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from services.observability.http import MetricsSettings

log = logging.getLogger(__name__)

# The longest one scrape may hold the loop: a client that connects and sends nothing
# must not keep the parent from supervising.
REQUEST_TIMEOUT = 2.0


class _QuietHandler(WSGIRequestHandler):
    timeout = REQUEST_TIMEOUT

    def log_message(self, format: str, *args: object) -> None:
        """Scrapes are not worth a line each."""


class InlineMetricsEndpoint:
    """Bound at creation (OSError naming the address when it cannot be); `handle` once
    `fileno` is readable."""

    def __init__(self, settings: MetricsSettings, registry: CollectorRegistry) -> None:
        bare = settings.host.removeprefix("[").removesuffix("]")
        try:
            family = socket.getaddrinfo(bare, settings.port, type=socket.SOCK_STREAM)[0][0]
            # timeout 0: handle_request does not wait for a connection that the loop
            # saw ready but that is gone by then.
            server_class = type(
                "MetricsServer", (WSGIServer,), {"address_family": family, "timeout": 0}
            )
            self._httpd: WSGIServer = make_server(
                bare,
                settings.port,
                make_wsgi_app(registry),
                server_class=server_class,
                handler_class=_QuietHandler,
            )
        except OSError as exc:
            raise OSError(
                f"cannot bind metrics endpoint {settings.host}:{settings.port}: {exc}"
            ) from None
        self.host = bare
        self.port: int = self._httpd.server_port
        host = f"[{bare}]" if ":" in bare else bare
        log.info("metrics of every worker at http://%s:%d/metrics", host, self.port)

    def fileno(self) -> int:
        return self._httpd.fileno()

    def handle(self) -> None:
        self._httpd.handle_request()

    def close(self) -> None:
        self._httpd.server_close()
