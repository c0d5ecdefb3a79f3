"""The /metrics HTTP endpoint that Prometheus scrapes (its flags: services/server_flags.py)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server

from services.transport.addresses import bare_host, cannot_bind, url_host

log = logging.getLogger(__name__)

# The port OpenTelemetry's Prometheus exporter made conventional.
CONVENTIONAL_PORT = 9464


@dataclass(slots=True)
class MetricsServer:
    host: str
    port: int
    _httpd: WSGIServer
    _thread: threading.Thread

    @property
    def url(self) -> str:
        return metrics_url(self.host, self.port)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def start_metrics_server(
    port: int, registry: CollectorRegistry, host: str = "0.0.0.0"
) -> MetricsServer:
    """Serves `registry` at http://host:port/metrics (any path answers, in fact) from
    daemon threads. Port 0 picks a free port; the handle says which.

    `host` may be bracketed like the gRPC flags ("[::]"). OSError when the bind fails.
    """
    try:
        httpd, thread = start_http_server(port, addr=bare_host(host), registry=registry)
    except OSError as exc:
        raise cannot_bind("metrics endpoint", host, port, exc) from None
    server = MetricsServer(bare_host(host), httpd.server_port, httpd, thread)
    log.info("metrics at %s", server.url)
    return server


def metrics_url(host: str, port: int) -> str:
    return f"http://{url_host(host)}:{port}/metrics"


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    # 0: no endpoint (the metrics are still kept, just not served).
    port: int = 0
    host: str = "0.0.0.0"

    @property
    def enabled(self) -> bool:
        return self.port != 0


def serve_metrics(settings: MetricsSettings, registry: CollectorRegistry) -> MetricsServer | None:
    """The endpoint `settings` ask for, serving `registry`; None when they ask for none."""
    if not settings.enabled:
        return None
    return start_metrics_server(settings.port, registry, settings.host)
