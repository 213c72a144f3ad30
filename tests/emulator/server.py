"""moto in server mode on a thread, behind a WSGI middleware that records calls and injects faults.

Why not `moto.server.ThreadedMotoServer`: the tool uses aiobotocore, which only works against a
real HTTP endpoint (mock_aws cannot intercept aiohttp), and the scenarios need what that class
cannot do: see every call, fail some of them, amend answers, and make the endpoint vanish for a
while and come back on the SAME port with the same state (a client keeps its endpoint URL).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from moto.ecs.exceptions import InvalidParameterException
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from . import amendments
from .calls import Call, CallLog
from .faults import Fault, FaultInjector, error_response
from .quota import THROTTLED, LogQuota

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

_TARGET_PREFIX_SERVICE = {
    "AmazonEC2ContainerServiceV20141113": "ecs",
    "Logs_20140328": "logs",
    "AmazonSSM": "ssm",
    "secretsmanager": "secretsmanager",
}
_AMENDED_OPERATIONS = frozenset({"RunTask", "DescribeTasks"})
_SHUTDOWN_POLL = 0.05
"""serve_forever's poll interval: how long stop_listening() may wait for the loop to notice."""


def _credential_scope_service(environ: WSGIEnvironment) -> str | None:
    """Return the service named in the SigV4 credential scope (key/date/region/service/...)."""
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    marker = "Credential="
    if marker not in authorization:
        return None
    scope = authorization.split(marker, 1)[1].split(",", 1)[0].split("/")
    return scope[3] if len(scope) > 3 else None


def _identify(environ: WSGIEnvironment, body: bytes | None) -> Call:
    """Name the service and operation of a request and decode its parameters."""
    scope_service = _credential_scope_service(environ)
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if "." in target:
        prefix, operation = target.rsplit(".", 1)
        service = _TARGET_PREFIX_SERVICE.get(prefix) or scope_service or prefix
        try:
            decoded = json.loads(body or b"{}")
        except ValueError:
            decoded = {}
        return Call(service, operation, decoded if isinstance(decoded, dict) else {})
    if body is not None and environ.get("CONTENT_TYPE", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        fields = urllib.parse.parse_qs(body.decode(errors="replace"), keep_blank_values=True)
        params: dict[str, Any] = {k: v[0] if len(v) == 1 else v for k, v in fields.items()}
        operation = str(params.pop("Action", "") or "Unknown")
        params.pop("Version", None)
        return Call(scope_service or "unknown", operation, params)
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "/")
    query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    return Call(scope_service or "unknown", f"{method} {path}", dict(query))


def _read_body(environ: WSGIEnvironment) -> bytes | None:
    """Read a JSON or form body and put it back for moto; other bodies (S3 uploads) stay put."""
    content_type = environ.get("CONTENT_TYPE", "")
    if not content_type.startswith(("application/x-amz-json", "application/x-www-form-urlencoded")):
        return None
    stream = environ["wsgi.input"]
    if environ.get("CONTENT_LENGTH"):
        try:
            body: bytes = stream.read(int(environ["CONTENT_LENGTH"]))
        except ValueError:
            return None
    elif environ.get("wsgi.input_terminated"):
        # A chunked body: werkzeug's stream ends where the body does.
        body = stream.read()
        environ["CONTENT_LENGTH"] = str(len(body))
    else:
        return None
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _drop_connection(environ: WSGIEnvironment) -> None:
    """Close the client's connection without an answer.

    Shutting the socket down makes the client see EOF instead of a response; raising a
    ConnectionError then makes werkzeug treat it as a dropped connection (no 500, no log line).
    """
    connection = environ.get("werkzeug.socket")
    if isinstance(connection, socket.socket):
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)
    raise ConnectionAbortedError("connection dropped by an injected fault")


class EmulatorMiddleware:
    """WSGI middleware around moto: records calls, injects faults, enforces the GetLogEvents
    quota, amends ECS answers."""

    def __init__(
        self,
        app: WSGIApplication,
        *,
        calls: CallLog,
        faults: FaultInjector,
        quota: LogQuota,
        on_reset: Callable[[], None],
        on_created_service: Callable[[dict[str, Any]], None],
        list_tasks: Callable[[dict[str, Any]], dict[str, Any]],
        check_run_task: Callable[[dict[str, Any]], None] = lambda _params: None,
    ) -> None:
        """Wrap `app`; `on_reset` runs after moto handled a POST /moto-api/reset,
        `on_created_service` after a CreateService moto answered, with its parameters;
        `list_tasks` answers ListTasks (moto neither pages nor filters it as AWS does)."""
        self._app = app
        self._calls = calls
        self._faults = faults
        self._quota = quota
        self._on_reset = on_reset
        self._on_created_service = on_created_service
        self._list_tasks = list_tasks
        self._check_run_task = check_run_task

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer one request."""
        path = environ.get("PATH_INFO", "")
        if path.startswith("/moto-api"):
            answer = self._app(environ, start_response)
            if path.rstrip("/") == "/moto-api/reset":
                self._on_reset()
            return answer
        body = _read_body(environ)
        call = _identify(environ, body)
        fault = self._faults.pick(call)
        if fault is None and THROTTLED.matches(call) and not self._quota.admit(call.at):
            fault = THROTTLED
        self._calls.append(
            call
            if fault is None
            else Call(call.service, call.operation, call.params, call.at, fault.kind)
        )
        json_protocol = "HTTP_X_AMZ_TARGET" in environ
        if fault is not None and fault.kind in ("throttle", "http500", "http503"):
            status, headers, payload = error_response(fault, json_protocol=json_protocol)
            start_response(status, headers)
            return [payload]
        if fault is not None and fault.kind == "drop" and not fault.after_processing:
            _drop_connection(environ)
        answer = self._forward(environ, start_response, call)
        if fault is not None and fault.kind == "drop":
            _drop_connection(environ)
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay)
        return answer

    def _forward(
        self, environ: WSGIEnvironment, start_response: StartResponse, call: Call
    ) -> Iterable[bytes]:
        """Let moto answer; merge the agent's extra `failures` into RunTask/DescribeTasks."""
        if call.service == "ecs" and call.operation == "RunTask":
            try:
                self._check_run_task(call.params)
            except InvalidParameterException as error:
                return _refused(start_response, error)
        if call.service == "ecs" and call.operation == "ListTasks":
            try:
                payload = json.dumps(self._list_tasks(call.params)).encode()
            except InvalidParameterException as error:
                return _refused(start_response, error)
            start_response(
                "200 OK",
                [
                    ("Content-Type", "application/x-amz-json-1.1"),
                    ("Content-Length", str(len(payload))),
                ],
            )
            return [payload]
        if call.service == "ecs" and call.operation == "CreateService":
            answer = self._app(environ, start_response)
            self._on_created_service(call.params)
            return answer
        if call.service != "ecs" or call.operation not in _AMENDED_OPERATIONS:
            return self._app(environ, start_response)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            del exc_info
            return lambda _data: None

        amendments.begin()
        try:
            chunks = self._app(environ, capture)
            payload = b"".join(chunks)
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        finally:
            failures = amendments.take()
        status: str = captured["status"]
        headers: list[tuple[str, str]] = captured["headers"]
        if failures and status.startswith("200"):
            document = json.loads(payload)
            document.setdefault("failures", []).extend(failures)
            payload = json.dumps(document).encode()
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(payload))))
        start_response(status, headers)
        return [payload]


def _refused(start_response: StartResponse, error: InvalidParameterException) -> list[bytes]:
    """An AWS client error, shaped as the fault injector shapes its errors."""
    refusal = Fault(kind="throttle", error_code=error.code, message=error.message, status=400)
    status, headers, payload = error_response(refusal, json_protocol=True)
    start_response(status, headers)
    return [payload]


def moto_app(
    *,
    calls: CallLog,
    faults: FaultInjector,
    quota: LogQuota,
    on_reset: Callable[[], None],
    on_created_service: Callable[[dict[str, Any]], None],
    list_tasks: Callable[[dict[str, Any]], dict[str, Any]],
    check_run_task: Callable[[dict[str, Any]], None] = lambda _params: None,
) -> EmulatorMiddleware:
    """Return moto's dispatcher application (all services) wrapped in the middleware."""
    return EmulatorMiddleware(
        DomainDispatcherApplication(create_backend_app),
        calls=calls,
        faults=faults,
        quota=quota,
        on_reset=on_reset,
        on_created_service=on_created_service,
        list_tasks=list_tasks,
        check_run_task=check_run_task,
    )


class _ConnectionRegistry:
    """The sockets of the connections the server is serving, to cut them on stop_listening()."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()

    def add(self, connection: socket.socket) -> None:
        with self._lock:
            self._sockets.add(connection)

    def discard(self, connection: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(connection)

    def cut_all(self) -> None:
        with self._lock:
            sockets = list(self._sockets)
        for connection in sockets:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


def _handler_class(registry: _ConnectionRegistry) -> type[MotoRequestHandler]:
    """Return moto's request handler, tracking its connection in `registry`.

    A client keeps idle keep-alive connections; an endpoint that "goes away" must cut them too,
    or the client would keep talking to a server that no longer listens.
    """

    class TrackingRequestHandler(MotoRequestHandler):
        def setup(self) -> None:
            super().setup()
            registry.add(self.connection)

        def finish(self) -> None:
            registry.discard(self.connection)
            super().finish()

    return TrackingRequestHandler


class MotoHttpServer:
    """A threaded werkzeug server for moto that can stop and resume listening on its port."""

    def __init__(self, app: WSGIApplication, *, host: str = "127.0.0.1", port: int = 0) -> None:
        """Prepare; nothing listens until start_listening()."""
        self.host = host
        self._port = port
        self._app = app
        self._lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._connections = _ConnectionRegistry()
        self._listening = threading.Event()
        self._comeback: threading.Timer | None = None
        logging.getLogger("werkzeug").setLevel(logging.ERROR)

    @property
    def port(self) -> int:
        """The port; chosen by the OS on the first start when 0 was asked for, then kept."""
        return self._port

    @property
    def listening(self) -> bool:
        """Whether the server accepts connections now."""
        return self._listening.is_set()

    def start_listening(self) -> None:
        """Bind (to the same port as before, if any) and serve on a daemon thread."""
        with self._lock:
            if self._server is not None:
                return
            server = make_server(
                self.host,
                self._port,
                self._app,
                threaded=True,
                request_handler=_handler_class(self._connections),
            )
            self._port = server.server_port
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": _SHUTDOWN_POLL},
                name=f"moto-server-{self._port}",
                daemon=True,
            )
            thread.start()
            self._server, self._thread = server, thread
            self._listening.set()

    def stop_listening(self) -> None:
        """Close the listening socket and cut open connections; moto's state is kept."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
            self._listening.clear()
            if server is None or thread is None:
                return
            server.shutdown()
            server.server_close()
            self._connections.cut_all()
            thread.join()

    def restart(self, down_for: float) -> threading.Event:
        """Stop listening now and start again on the same port after `down_for` seconds.

        Returns at once (the tool under test may run on the caller's thread or event loop);
        the returned Event is set when the endpoint is back.
        """
        self.stop_listening()
        back = threading.Event()

        def come_back() -> None:
            self.start_listening()
            back.set()

        timer = threading.Timer(down_for, come_back)
        timer.daemon = True
        with self._lock:
            self._comeback = timer
        timer.start()
        return back

    def close(self) -> None:
        """Stop listening for good, including a pending come-back of restart()."""
        with self._lock:
            timer, self._comeback = self._comeback, None
        if timer is not None:
            timer.cancel()
            if timer is not threading.current_thread():
                timer.join()
        self.stop_listening()
