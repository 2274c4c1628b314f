"""A loopback stand-in for an OpenTelemetry Collector's OTLP/HTTP receiver, for tests.

    with Collector() as collector:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url}
        ... something exports ...
        assert collector.wait_for(lambda c: c.metric("lifeguard.tool.calls"), timeout=30)
        points = collector.metric("lifeguard.tool.calls")

It listens on 127.0.0.1 (a free port), accepts `POST /v1/metrics` and `POST /v1/logs` with
`application/x-protobuf` bodies (gzip or deflate when `Content-Encoding` says so), decodes
them with the official `opentelemetry-proto` messages, and keeps every request. A body that
does not decode is answered 400 and kept in `rejected`, so a test sees a malformed export
instead of a silent pass. `status` answers every request with that HTTP status instead
(e.g. 503 for a collector that is up but failing); `dead_endpoint()` and `Silent` give a
collector that refuses connections or accepts and never answers.
"""

from __future__ import annotations

import gzip
import socket
import threading
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2

SIGNALS = {
    "/v1/metrics": (metrics_service_pb2.ExportMetricsServiceRequest, metrics_service_pb2.ExportMetricsServiceResponse),
    "/v1/logs": (logs_service_pb2.ExportLogsServiceRequest, logs_service_pb2.ExportLogsServiceResponse),
}


def any_value(value) -> Any:
    """An OTLP AnyValue as plain Python."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    return getattr(value, kind)


def attributes(pairs) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in pairs}


@dataclass
class Point:
    """One metric data point, flattened with its metric and resource."""

    name: str
    kind: str  # "sum", "gauge", "histogram"
    unit: str
    attrs: dict[str, Any]
    resource: dict[str, Any]
    scope: str
    value: float | None = None  # sum and gauge
    count: int | None = None  # histogram
    sum: float | None = None  # histogram
    bucket_counts: list[int] = field(default_factory=list)
    explicit_bounds: list[float] = field(default_factory=list)
    temporality: int = 0  # 1 delta, 2 cumulative
    monotonic: bool = False
    start_time_unix_nano: int = 0
    time_unix_nano: int = 0


@dataclass
class LogRecord:
    body: Any
    severity_text: str
    severity_number: int
    attrs: dict[str, Any]
    resource: dict[str, Any]
    scope: str
    time_unix_nano: int


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    message: Any  # the decoded Export*ServiceRequest


class Collector:
    def __init__(self, status: int = 200):
        self.status = status
        self.received: list[Received] = []
        self.rejected: list[tuple[str, str]] = []  # (path, why)
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> "Collector":
        collector = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                collector._handle(self)

            def log_message(self, format, *args) -> None:  # noqa: A002 - quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="otlp-collector", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "Collector":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "collector not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- receiving ---------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length)
        path = request.path.split("?", 1)[0]
        headers = {k.lower(): v for k, v in request.headers.items()}
        if path not in SIGNALS:
            self._answer(request, 404, b"")
            return
        if self.status != 200:
            self._answer(request, self.status, b"")
            return
        request_type, response_type = SIGNALS[path]
        try:
            encoding = headers.get("content-encoding", "").lower()
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            elif encoding not in ("", "identity"):
                raise ValueError(f"unknown content-encoding {encoding!r}")
            if headers.get("content-type", "").split(";")[0].strip() != "application/x-protobuf":
                raise ValueError(f"content-type {headers.get('content-type')!r} is not application/x-protobuf")
            message = request_type()
            message.ParseFromString(body)
        except Exception as exc:  # noqa: BLE001 - anything undecodable is the exporter's bug
            with self._changed:
                self.rejected.append((path, f"{type(exc).__name__}: {exc}"))
                self._changed.notify_all()
            self._answer(request, 400, b"")
            return
        with self._changed:
            self.received.append(Received(path, headers, message))
            self._changed.notify_all()
        self._answer(request, 200, response_type().SerializeToString())

    @staticmethod
    def _answer(request: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
        request.send_response(status)
        request.send_header("Content-Type", "application/x-protobuf")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def wait_for(self, predicate: Callable[["Collector"], Any], timeout: float) -> Any:
        """Wait until `predicate(self)` is truthy (re-checked on every request); its last value."""
        import time

        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                value = predicate(self)
                left = deadline - time.monotonic()
                if value or left <= 0:
                    return value
                self._changed.wait(left)

    # -- what was received, flattened --------------------------------------------------

    def requests(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    def points(self) -> list[Point]:
        out: list[Point] = []
        for req in self.requests("/v1/metrics"):
            for rm in req.message.resource_metrics:
                resource = attributes(rm.resource.attributes)
                for sm in rm.scope_metrics:
                    for metric in sm.metrics:
                        out.extend(_points(metric, resource, sm.scope.name))
        return out

    def metric(self, name: str) -> list[Point]:
        return [p for p in self.points() if p.name == name]

    def metric_names(self) -> set[str]:
        return {p.name for p in self.points()}

    def logs(self) -> list[LogRecord]:
        out: list[LogRecord] = []
        for req in self.requests("/v1/logs"):
            for rl in req.message.resource_logs:
                resource = attributes(rl.resource.attributes)
                for sl in rl.scope_logs:
                    for rec in sl.log_records:
                        out.append(LogRecord(any_value(rec.body), rec.severity_text, rec.severity_number,
                                             attributes(rec.attributes), resource, sl.scope.name,
                                             rec.time_unix_nano))
        return out


def _points(metric, resource: dict, scope: str) -> list[Point]:
    kind = metric.WhichOneof("data")
    base = {"name": metric.name, "unit": metric.unit, "resource": resource, "scope": scope}
    out = []
    if kind in ("sum", "gauge"):
        data = getattr(metric, kind)
        for dp in data.data_points:
            value = dp.as_double if dp.WhichOneof("value") == "as_double" else dp.as_int
            out.append(Point(kind=kind, attrs=attributes(dp.attributes), value=value,
                             temporality=getattr(data, "aggregation_temporality", 0),
                             monotonic=getattr(data, "is_monotonic", False),
                             start_time_unix_nano=dp.start_time_unix_nano, time_unix_nano=dp.time_unix_nano, **base))
    elif kind == "histogram":
        for dp in metric.histogram.data_points:
            out.append(Point(kind=kind, attrs=attributes(dp.attributes), count=dp.count, sum=dp.sum,
                             bucket_counts=list(dp.bucket_counts), explicit_bounds=list(dp.explicit_bounds),
                             temporality=metric.histogram.aggregation_temporality,
                             start_time_unix_nano=dp.start_time_unix_nano, time_unix_nano=dp.time_unix_nano, **base))
    else:
        out.append(Point(kind=str(kind), attrs={}, **base))
    return out


def dead_endpoint() -> str:
    """An http:// URL on 127.0.0.1 where nothing listens: connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class Silent:
    """A collector that accepts connections (the kernel queues them) and never answers."""

    def __init__(self):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def accept(self, timeout: float) -> socket.socket:
        """The next connection made to it (the caller closes it); socket.timeout if none comes."""
        self._sock.settimeout(timeout)
        return self._sock.accept()[0]

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> "Silent":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
