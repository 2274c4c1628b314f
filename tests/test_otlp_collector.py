"""The OTLP/HTTP collector stand-in decodes what the official exporter really sends."""

from __future__ import annotations

import gzip
import urllib.error
import urllib.request

import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource

from otlp_collector import Collector


def _metrics_data():
    reader = InMemoryMetricReader()
    provider = MeterProvider(resource=Resource.create({"service.name": "probe"}), metric_readers=[reader])
    meter = provider.get_meter("probe")
    meter.create_counter("probe.calls").add(3, {"tool.name": "Bash"})
    meter.create_histogram("probe.duration", unit="ms").record(12.5, {"hook.event": "PreToolUse"})
    return reader.get_metrics_data()


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_decodes_the_official_exporters_metrics(compression) -> None:
    with Collector() as collector:
        exporter = OTLPMetricExporter(endpoint=collector.url + "/v1/metrics", compression=compression)
        assert exporter.export(_metrics_data()).name == "SUCCESS"
        calls = collector.metric("probe.calls")
        assert [(p.value, p.attrs, p.resource["service.name"]) for p in calls] == [(3, {"tool.name": "Bash"}, "probe")]
        (duration,) = collector.metric("probe.duration")
        assert (duration.kind, duration.count, duration.sum, duration.unit) == ("histogram", 1, 12.5, "ms")
        if compression is Compression.Gzip:
            assert collector.received[0].headers["content-encoding"] == "gzip"
        assert not collector.rejected


def test_decodes_the_official_exporters_logs() -> None:
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource.create({"service.name": "probe"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    provider.get_logger("probe").emit(body="a loop was refused", severity_text="WARN",
                                      attributes={"lifeguard.code": "TOOL_LOOP_BLOCKED"})
    with Collector() as collector:
        exporter = OTLPLogExporter(endpoint=collector.url + "/v1/logs")
        assert exporter.export(memory.get_finished_logs()).name == "SUCCESS"
        (record,) = collector.logs()
        assert (record.body, record.severity_text, record.attrs) == (
            "a loop was refused", "WARN", {"lifeguard.code": "TOOL_LOOP_BLOCKED"})


def test_rejects_what_does_not_decode_and_can_fail_on_purpose() -> None:
    with Collector() as collector:
        bad = urllib.request.Request(collector.url + "/v1/metrics", data=gzip.compress(b"\xff\xff\xff"),
                                     headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(bad, timeout=5)
        assert err.value.code == 400 and collector.rejected and not collector.received
        collector.status = 503
        exporter = OTLPMetricExporter(endpoint=collector.url + "/v1/metrics", timeout=2)
        assert exporter.export(_metrics_data()).name == "FAILURE"
        assert not collector.received
