"""The OpenTelemetry export: lifeguard's numbers as OTLP metrics, its incidents as OTLP log records.

Runs in its own process (`scripts/otel_export.py`, started detached by a hook: see trigger.py),
never inside a hook, and only when the switch is on, at low priority (the script lowers it). One run:

1. takes `state/telemetry/export.lock` (core.toollock: one exporter per workspace; a second waits its turn,
   holding `export.queue` while it waits: a third, finding that held, leaves at once, since the one
   waiting will send all it would; so Stops in quick succession leave one exporter running and one
   waiting, however many they start),
2. reads what was recorded since the last successful export, BATCH records and BATCH samples at
   a time, streamed: each session's event log from its mark in `state/telemetry/export-cursor.json`
   (sequence number, byte offset, first line: store.eventlog.read_from), and the hook samples
   after their cursor. What a run holds in memory and the work it does are bounded however long
   the logs and the backlog are: at most BATCHES_PER_RUN batches of each signal, the rest left
   for the next runs,
3. sends the metrics (`measures.counts` and `measures.timings` of each batch, as delta
   sums and histograms, plus the state folder's disk use) to `/v1/metrics` and the incidents
   (code, severity, scrubbed message) to `/v1/logs`, each session with its own resource:
   `service.name=lifeguard`, `session.id`, the workspace hashed (`lifeguard.workspace.hash`)
   unless `telemetry.include_paths`,
4. moves each signal's cursor after each batch the collector accepted. A collector that is down,
   slow or refusing leaves the cursors where they were: the next run sends the same data
   again, nothing recorded locally is lost, and nothing in a hook waited for it,
5. after a failure, backs off: the hooks start no exporter until the next try (`_conclude`),
   which export-status.json names (`next_try`, with the count of `failures` in a row).

Configured the OpenTelemetry way: OTEL_EXPORTER_OTLP_ENDPOINT (or the per-signal
..._METRICS_ENDPOINT / ..._LOGS_ENDPOINT), OTEL_EXPORTER_OTLP_HEADERS, ..._TIMEOUT,
..._COMPRESSION, OTEL_RESOURCE_ATTRIBUTES, OTEL_SDK_DISABLED, taken from the exporter's
environment, else from `telemetry.environment` in lifeguard.json (Claude Code 2.1.332 removes
OTEL_EXPORTER_OTLP_* and a few more from the environment of the hooks it runs, so a setting in
the user's shell does not reach a hook, nor the exporter it starts). OTEL_EXPORTER_OTLP_PROTOCOL
must be http/protobuf (the default); another protocol is reported, and nothing is sent.
The outcome of the last run is in `state/telemetry/export-status.json`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path

from .. import VERSION
from ..alerts import codes
from ..config import load as config_mod
from ..core import clock, fsutil
from ..core.locking import LockTimeout, SessionLock
from ..core.paths import Layout, safe_name
from ..core.toollock import ToolLock
from ..redact import redactor as redact
from ..store import eventlog, jsoncodec
from . import measures, samples, trigger

CURSOR = "export-cursor.json"
STATUS = "export-status.json"
LOCK = "export.lock"
QUEUE = "export.queue"
LOCK_WAIT_SECONDS = 120
BATCH = 2000  # event records, and hook samples, read and sent at a time: what a run holds in memory
BATCHES_PER_RUN = 10  # a longer backlog is the next runs' (each run's cost stays bounded)
LOG_BATCH = 1000  # incidents per /v1/logs request
BACKOFF_CAP_SECONDS = 1800
SCOPE = "lifeguard"
# lifeguard's severities (docs/severity.md) as OpenTelemetry's severity text and number
SEVERITY = {"info": ("INFO", 9), "low": ("WARN", 13), "medium": ("ERROR", 17), "high": ("ERROR", 18),
            "critical": ("FATAL", 21)}


class Unsupported(Exception):
    """The configuration asks for something this exporter does not do (said in the status file)."""


def run(claude_dir: str) -> int:
    """One export run for `claude_dir`; 0 sent (or nothing to send), 1 failed (kept for next time)."""
    started = time.time()
    layout = Layout(Path(claude_dir))
    cfg = config_mod.load(layout)
    section = cfg.get("telemetry") or {}
    if not trigger.enabled(section):
        return 0  # without the switch nothing is ever sent
    for name, value in (section.get("environment") or {}).items():
        os.environ.setdefault(name, value)  # Claude Code keeps OTEL_EXPORTER_OTLP_* from hooks
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return 0
    folder = layout.state_dir / samples.FOLDER
    fsutil.ensure_private_dir(folder)
    jsoncodec.use_orjson()  # a backlog is thousands of records (store/jsoncodec.py)
    status = {"ts": clock.now_iso(), "metrics": None, "logs": None}
    queue = SessionLock(folder / QUEUE, 0)
    try:
        queue.acquire()
    except LockTimeout:
        return 0  # another exporter waits its turn: it reads all that is recorded when it starts, this one's too
    try:
        with ToolLock(folder / LOCK, LOCK_WAIT_SECONDS):  # one exporter at a time; a stuck one is not waited on forever
            queue.release()  # before reading anything: what a later one would send, this one sends
            if _failed_meanwhile(folder / STATUS, started):
                return 1  # an exporter failed while this one waited its turn: its back-off holds for this one too
            _check_protocol()
            status.update(send(layout, cfg))
            return _conclude(layout, section, status)  # under the lock: the next exporter sees how this one went
    except Unsupported as exc:
        status["error"] = str(exc)
    except Exception as exc:  # noqa: BLE001 - detached: the status file is the only place to say it
        status["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
    finally:
        queue.release()
    return _conclude(layout, section, status)


def _conclude(layout: Layout, section: dict, status: dict) -> int:
    """Write how the run went. After a failure the hooks start no exporter before the next try,
    `export_interval_seconds` times 2 to the number of failures in a row, at most
    BACKOFF_CAP_SECONDS (a collector that is down is not knocked on every minute); an accepted
    run resets that."""
    path = layout.state_dir / samples.FOLDER / STATUS
    if status.get("error"):
        failures = int((_read_json(path) or {}).get("failures") or 0) + 1
        until = time.time() + min(trigger.interval_of(section) * 2 ** failures, BACKOFF_CAP_SECONDS)
        status.update(failures=failures, next_try=clock.iso(until))
        trigger.back_off(layout.state_dir, until, section)
    else:
        trigger.resume(layout.state_dir)
    _write_json(path, status)
    return 1 if status.get("error") else 0


def _failed_meanwhile(path: Path, started: float) -> bool:
    """Whether a run that ended after `started` failed and set a next try still to come."""
    try:
        if os.stat(path).st_mtime < started:
            return False
    except OSError:
        return False
    until = clock.epoch((_read_json(path) or {}).get("next_try"))
    return until > time.time()


def send(layout: Layout, cfg: dict) -> dict:
    """Send what is new, a batch at a time, at most BATCHES_PER_RUN of each signal; returns what
    was sent and, if something failed, why. Each signal's cursor moves after each batch the
    collector accepted; a batch it did not accept stops that signal's run (sent again next time)."""
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    redact.configure(cfg, layout)  # incident messages are scrubbed again on their way out
    folder = layout.state_dir / samples.FOLDER
    cursor = _read_json(folder / CURSOR) or {}
    workspace = _workspace_attributes(layout, cfg)
    hide = None if "lifeguard.workspace.path" in workspace else str(layout.claude_dir.absolute().parent)
    failures = _capture_sdk_errors()
    metrics = {"points": 0, "records": 0, "samples": 0}
    logs = {"records": 0}
    out: dict = {"metrics": metrics, "logs": logs}
    exporters = {"metrics": OTLPMetricExporter(), "logs": OTLPLogExporter()}
    more = {"metrics": True, "logs": True}
    for n in range(BATCHES_PER_RUN):
        for signal in [s for s, left in more.items() if left]:
            if signal == "metrics":
                ok, more[signal] = _metrics_batch(layout, cursor, exporters[signal], workspace, n == 0, metrics)
            else:
                ok, more[signal] = _logs_batch(layout, cursor, exporters[signal], workspace, hide, logs)
            if not ok:
                out.setdefault("error", f"{signal} not accepted: " + (failures.last or "the collector did not answer"))
        if not any(more.values()):
            break
    else:
        out["backlog"] = True  # more than a run sends: the next runs go on with it
    return out


def _metrics_batch(layout: Layout, cursor: dict, exporter, workspace: dict, first: bool,
                   sent: dict) -> tuple[bool, bool]:
    """Send the counters of the next BATCH records and the timings of the next BATCH samples
    (and, in a run's first batch, the state folder's disk use); (accepted, more may wait)."""
    m_cursor = cursor.get("metrics") or {}
    records, seen, full = _read_batch(layout, m_cursor.get("sessions") or {})
    new_samples, samples_cursor = samples.read_since(layout.state_dir, m_cursor.get("samples"), BATCH)
    if not (first or records or new_samples):
        return True, False
    data = _metrics(records, new_samples, workspace, measures.folder_bytes(layout.state_dir) if first else None)
    if exporter.export(data).name != "SUCCESS":
        return False, False
    cursor["metrics"] = {"sessions": seen, "samples": samples_cursor}
    _write_json(layout.state_dir / samples.FOLDER / CURSOR, cursor)
    sent["points"] += sum(len(m.data.data_points) for rm in data.resource_metrics
                          for sm in rm.scope_metrics for m in sm.metrics)
    sent["records"] += sum(len(r) for r in records.values())
    sent["samples"] += len(new_samples)
    return True, full or len(new_samples) >= BATCH


def _logs_batch(layout: Layout, cursor: dict, exporter, workspace: dict, hide: str | None,
                sent: dict) -> tuple[bool, bool]:
    """Send the incidents of the next BATCH records, LOG_BATCH at a time, never splitting a
    record's incidents; the cursor moves after each request accepted. (accepted, more may wait)."""
    seen = dict((cursor.get("logs") or {}).get("sessions") or {})
    records, latest, full = _read_batch(layout, seen)
    chunk: list[tuple[str, dict, dict]] = []
    upto: dict[str, dict] = {}  # each session's last record whose incidents are all in `chunk`
    ends = [(name, record, end) for name, recs in sorted(records.items()) for record, end in recs]
    for i, (name, record, end) in enumerate(ends):
        chunk.extend((name, record, item) for item in measures.incidents(record))
        upto[name] = {**latest[name], "seq": record["seq"], "off": end}  # the same file: its first line
        if chunk and (len(chunk) >= LOG_BATCH or i == len(ends) - 1):
            if exporter.export(_log_records(chunk, workspace, hide)).name != "SUCCESS":
                return False, False
            sent["records"] += len(chunk)
            seen.update(upto)
            cursor["logs"] = {"sessions": seen}
            _write_json(layout.state_dir / samples.FOLDER / CURSOR, cursor)
            chunk = []
    if latest != (cursor.get("logs") or {}).get("sessions"):
        cursor["logs"] = {"sessions": latest}  # past the records without incidents, and the skipped lines
        _write_json(layout.state_dir / samples.FOLDER / CURSOR, cursor)
    return True, full


# -- reading what is new ---------------------------------------------------------------------------


def _read_batch(layout: Layout, seen: dict) -> tuple[dict[str, list[tuple[dict, int]]], dict, bool]:
    """The next BATCH records after the cursors `seen`, by session ({session: [(record, offset
    past its line)]}), the cursors after them, and whether the batch is full (more may wait).
    A log whose size is where its cursor stands is not opened (a log begun anew that happens to
    be exactly that long waits until it grows: delayed, not lost). The cursor of a log that is gone
    (archived; compacted, until the next event begins it anew, which is read whole anyway) is
    dropped: the cursor file holds the sessions present, not every session there ever was."""
    out: dict[str, list[tuple[dict, int]]] = {}
    left = BATCH
    try:
        names = sorted(n[len("events-"):-len(".jsonl")] for n in os.listdir(layout.state_dir)
                       if n.startswith("events-") and n.endswith(".jsonl"))
    except OSError:
        return out, seen, False  # nothing read: the cursors as they were
    latest = {name: seen[name] for name in names if name in seen}
    for name in names:
        if left <= 0:
            break
        path = layout.event_log(name)
        try:
            size = os.stat(path).st_size
        except OSError:
            continue
        mark = seen.get(name) or {}
        if mark.get("off", mark.get("size")) == size:  # read to its end ("size": a cursor kept before offsets were)
            continue
        got, latest[name] = eventlog.read_from(path, mark, left)
        if got:
            out[name] = got
        left -= len(got)
    return out, latest, left <= 0


# -- building what is sent ---------------------------------------------------------------------------


def _workspace_attributes(layout: Layout, cfg: dict) -> dict:
    path = str(layout.claude_dir.absolute().parent)
    if (cfg.get("telemetry") or {}).get("include_paths"):
        return {"lifeguard.workspace.path": path}
    return {"lifeguard.workspace.hash": hashlib.sha256(path.encode()).hexdigest()[:16]}


def _resource(workspace: dict, session: str | None):
    from opentelemetry.sdk.resources import Resource

    attrs = {"service.name": "lifeguard", "service.version": VERSION, **workspace}
    if session is not None:
        attrs["session.id"] = session
    return Resource.create(attrs)  # OTEL_RESOURCE_ATTRIBUTES adds to these; ours win


def _metrics(records: dict[str, list[tuple[dict, int]]], new_samples: list[dict], workspace: dict,
             disk_bytes: int | None):
    from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, ObservableGauge
    from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader, MetricsData

    delta = {Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA,
             ObservableGauge: AggregationTemporality.CUMULATIVE}
    by_session: dict[str, tuple[list, list]] = {}
    for name, recs in records.items():
        by_session.setdefault(name, ([], []))[0].extend(record for record, _end in recs)
    for sample in new_samples:
        by_session.setdefault(safe_name(str(sample.get("s"))), ([], []))[1].append(sample)
    resource_metrics = []
    groups = [(name, recs, smps) for name, (recs, smps) in sorted(by_session.items())]
    if disk_bytes is not None:
        groups.append((None, [], []))
    for session, recs, smps in groups:
        reader = InMemoryMetricReader(preferred_temporality=delta)
        provider = MeterProvider(resource=_resource(workspace, session), metric_readers=[reader])
        meter = provider.get_meter(SCOPE, VERSION)
        if session is None:  # the workspace as a whole
            gauge = meter.create_gauge(measures.STATE_DISK, unit="By", description="disk use of .claude/state")
            gauge.set(disk_bytes)
        else:
            counters = {n: meter.create_counter(n, unit=u) for n, u in measures.COUNTERS.items()}
            histograms = {n: meter.create_histogram(n, unit=u) for n, u in measures.HISTOGRAMS.items()}
            for record in recs:
                for name, attrs in measures.counts(record):
                    counters[name].add(1, attrs)
            for sample in smps:
                for name, attrs, value in measures.timings(sample):
                    histograms[name].record(value, attrs)
        data = reader.get_metrics_data()
        if data is not None:
            resource_metrics.extend(data.resource_metrics)
        provider.shutdown()
    return MetricsData(resource_metrics=resource_metrics)


def _log_records(batch: list[tuple[str, dict, dict]], workspace: dict, hide: str | None) -> list:
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

    memory = InMemoryLogRecordExporter()
    providers: dict[str, object] = {}
    for session, record, item in batch:
        provider = providers.get(session)
        if provider is None:
            provider = providers[session] = LoggerProvider(resource=_resource(workspace, session))
            provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
        code = str(item.get("code") or codes.INTERNAL_ERROR)
        text, number = SEVERITY[codes.severity_of({**item, "code": code})]  # the incident's own, else its code's
        when = measures.epoch(record.get("ts"))
        attrs = {"lifeguard.code": code, "lifeguard.kind": str(item.get("kind") or ""),
                 "hook.event": str(record.get("hook") or record.get("event") or ""), "lifeguard.seq": int(record["seq"]),
                 "session.id": session}
        if record.get("tool"):
            attrs["tool.name"] = str(record["tool"])
        provider.get_logger(SCOPE, VERSION).emit(
            timestamp=int(when * 1e9) if when is not None else None, severity_text=text,
            severity_number=SeverityNumber(number), body=_message(item, code, hide),
            attributes=attrs, event_name="lifeguard.incident")
    for provider in providers.values():
        provider.shutdown()
    return list(memory.get_finished_logs())


def _message(item: dict, code: str, hide: str | None) -> str:
    """An incident's message as sent: secrets scrubbed, and the workspace path (repair notes
    name the quarantine folder) taken out when it is not to be sent."""
    text = redact.redact(str(item.get("message") or code))
    return (text.replace(hide, "<workspace>") if hide else text)[:1000]


# -- plumbing ----------------------------------------------------------------------------------------


def _check_protocol() -> None:
    for var in ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        value = os.environ.get(var, "").strip()
        if value and value != "http/protobuf":
            raise Unsupported(f"{var}={value}: lifeguard exports OTLP over http/protobuf only; "
                              "unset it, or point it at a collector's OTLP/HTTP receiver (port 4318)")


class _LastError(logging.Handler):
    """The last warning the OpenTelemetry SDK logged: why an export failed, for the status file."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.last: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.last = record.getMessage()[:300]


def _capture_sdk_errors() -> _LastError:
    handler = _LastError()
    logger = logging.getLogger("opentelemetry")
    logger.addHandler(handler)
    logger.propagate = False  # the exporter runs detached: nowhere to print
    return handler


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(fsutil.read_bytes_nofollow(path))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_json(path: Path, data: dict) -> None:
    fsutil.atomic_write(path, json.dumps(data, indent=1).encode())
