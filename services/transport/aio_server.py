"""A grpc.aio server with what every server of ours has (health, reflection, the
limits, the drain and grace of grpc_server.py), on an event loop of its own thread.

The loop runs in a thread so that the rest of the process stays as it is: the catalog
cache and subscription, the health monitor and the signal handling are threads and
blocking calls, and they reach the server through `AioRunningServer`'s blocking
methods, each of which runs a coroutine on the loop and waits for it. Every method
is wrapped once, as it is registered (`Registrar`, services/transport/aio_calls.py).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import _async as health_aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import _async as reflection_aio
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc

from services.transport.aio_calls import CallWrapper
from services.transport.grpc_server import ServerOptions, bind, channel_arguments
from services.transport.handlers import Handler

T = TypeVar("T")
_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class Registrar:
    """Stands in for the server in the generated `add_*Servicer_to_server` functions:
    keeps each service's method handlers, wrapped by `wrapper`."""

    def __init__(self, wrapper: CallWrapper) -> None:
        self._wrapper = wrapper
        self.services: dict[str, dict[str, Handler]] = {}
        self._generic: list[Any] = []

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Handler]) -> None:
        self.services[service] = {
            name: self._wrapper.wrap(f"/{service}/{name}", handler)
            for name, handler in handlers.items()
        }

    def add_generic_rpc_handlers(self, handlers: Sequence[Any]) -> None:
        # Generated code registers each service both ways; the registered handlers are
        # the ones wrapped, and `check` makes sure none came only this way.
        self._generic.extend(handlers)

    def check(self) -> None:
        for handler in self._generic:
            service = getattr(handler, "service_name", lambda: None)()
            if service not in self.services:
                raise TypeError(f"service {service!r} was registered only as a generic handler")


class _Health:
    """The health servicer's setters, callable from any thread but the loop's."""

    def __init__(self, run: Callable[[Coroutine[Any, Any, Any]], Any]) -> None:
        self._run = run
        self.servicer = health_aio.HealthServicer()

    def set(self, service: str, status: int) -> None:
        self._run(self.servicer.set(service, status))

    def enter_graceful_shutdown(self) -> None:
        self._run(self.servicer.enter_graceful_shutdown())


async def _end_leftovers() -> None:
    """Ends whatever still runs on the loop once the server stopped (a stream's
    pending read, say), so that no thread waits for it."""
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class AioRunningServer:
    """A started aio server: the same surface as grpc_server.RunningServer."""

    def __init__(
        self,
        options: ServerOptions,
        service_names: Sequence[str],
        executors: Sequence[ThreadPoolExecutor],
    ) -> None:
        self.service_names = tuple(service_names)
        self.grace_seconds = options.grace_seconds
        self.drain_seconds = options.drain_seconds
        self.port = 0
        self._executors = executors
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="grpc-aio-loop", daemon=True
        )
        self._thread.start()
        self._server: grpc.aio.Server | None = None
        self._closed = False
        self.health = _Health(self._run)

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Runs `coroutine` on the loop and waits for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def set_serving(self, serving: bool) -> None:
        if self._closed:
            return
        status = _SERVING if serving else _NOT_SERVING

        async def set_all() -> None:
            for name in ("", *self.service_names):
                await self.health.servicer.set(name, status)

        self._run(set_all())

    def start_draining(self) -> None:
        """Health NOT_SERVING for good (nothing sets it back), calls still served."""
        if not self._closed:
            self.health.enter_graceful_shutdown()

    def stop(self, grace: float | None = None) -> None:
        """Health to NOT_SERVING, then new calls refused and those in flight, on the
        loop or a pool, given `grace` (by default the server's); then the pools end,
        then the loop (`_close`)."""
        if self._closed:
            return
        self.set_serving(False)
        self._run(self._stop(self.grace_seconds if grace is None else grace))
        self._close()

    async def _stop(self, grace: float) -> None:
        if self._server is not None:
            await self._server.stop(grace)
        await _end_leftovers()

    def _close(self) -> None:
        """The pools end first, the loop still running: a thread whose call the grace
        cut short works on, and may still read its request stream or hand back its
        result through the loop; with the loop gone first, such a read could wait
        for ever, and the pool's shutdown with it."""
        self._closed = True
        for executor in self._executors:
            executor.shutdown(wait=True)
        self._run(_end_leftovers())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def start(
        self,
        options: ServerOptions,
        wrapper: CallWrapper,
        register: Callable[[Registrar], None],
        credentials: grpc.ServerCredentials | None,
    ) -> None:
        """Registers the services `register` adds, health and reflection; binds and
        starts with health NOT_SERVING. Raises OSError when the bind fails, after
        closing everything."""
        try:
            self.port = self._run(self._start(options, wrapper, register, credentials))
        except BaseException:
            self._closed = True  # nothing was served: no health to set
            self._run(self._stop(0))
            self._close()
            raise
        self.set_serving(False)

    async def _start(
        self,
        options: ServerOptions,
        wrapper: CallWrapper,
        register: Callable[[Registrar], None],
        credentials: grpc.ServerCredentials | None,
    ) -> int:
        registrar = Registrar(wrapper)
        register(registrar)
        health_pb2_grpc.add_HealthServicer_to_server(self.health.servicer, registrar)
        names = (*self.service_names, health.SERVICE_NAME, reflection.SERVICE_NAME)
        reflection_pb2_grpc.add_ServerReflectionServicer_to_server(
            reflection_aio.ReflectionServicer(names), registrar
        )
        registrar.check()
        # No migration_thread_pool: every handler is an async one (CallWrapper.wrap),
        # which runs any sync servicer on the pool its placement names.
        server = self._server = grpc.aio.server(options=channel_arguments(options))
        for service, handlers in registrar.services.items():
            server.add_generic_rpc_handlers(
                (grpc.method_handlers_generic_handler(service, handlers),)
            )
            server.add_registered_method_handlers(service, handlers)
        port = bind(server, options, credentials)
        await server.start()
        return port
