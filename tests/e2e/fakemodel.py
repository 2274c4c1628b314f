"""A scripted stand-in for the Anthropic Messages API, for driving the real
Claude Code CLI offline in end-to-end tests.

The server answers ``POST /v1/messages`` with a Server-Sent-Events stream built
from a *script*: a list of turns, one per main-conversation request.  A turn is
a list of blocks, each made with :func:`text` or :func:`tool_use`; several
``tool_use`` blocks in one turn are parallel tool calls.  When the script is
exhausted the server answers ``done`` with ``end_turn``.

Requests are classified (see :meth:`FakeModel.classify`):

* ``side``     - requests Claude Code makes on its own (title generation,
                 summaries, quota probes, ...).  They carry no ``tools``.  They
                 get a short text ``end_turn`` and never consume the script.
* ``subagent`` - requests from a subagent started by the Agent tool.  In
                 2.1.332 they carry an ``x-claude-code-agent-id: <agent_id>``
                 HTTP header (absent on main requests) and their first system
                 block (the billing header) contains ``cc_is_subagent=true``.
                 Their first user message is the Agent tool's ``prompt``
                 (after a ``<system-reminder>`` text block).
* ``compact``  - conversation-summary requests (``/compact``, auto-compact):
                 same tools as main, last user message starts with
                 "CRITICAL: Respond with TEXT ONLY. Do NOT call any tools.".
                 Answered with ``compact_text``; never consume the script.
* ``main``     - everything else with tools.

Which turn to serve is computed *statelessly* from the request: the number of
assistant messages already in ``messages`` is the index of the next turn for
that conversation (for the main conversation, counted from the last user
message that is the ``-p`` prompt, so ``--resume`` runs start at turn 0).  So
retries of the same request get the same answer, side requests never shift
the script, and each subagent walks its own script from turn 0.

Every request is recorded in :attr:`FakeModel.requests` (in arrival order) as
a :class:`Recorded` with the parsed body and its classification.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable, Mapping, Sequence

__all__ = [
    "FakeModel",
    "Recorded",
    "text",
    "tool_use",
    "bash",
    "block_text",
    "new_tool_id",
]

Block = dict[str, Any]
Turn = Sequence[Block]

_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_counter = itertools.count(1)
# Text of the last user message of a compaction request in 2.1.332.
_COMPACT_MARKER = "CRITICAL: Respond with TEXT ONLY. Do NOT call any tools."


def new_tool_id() -> str:
    """A fresh id shaped like the real ones: ``toolu_01`` + 22 base62 chars."""
    rand = "".join(secrets.choice(_ID_ALPHABET) for _ in range(22))
    return f"toolu_01{rand}"


def text(s: str) -> Block:
    """A text block for a turn."""
    return {"type": "text", "text": s}


def tool_use(name: str, input: Mapping[str, Any] | None = None, id: str | None = None) -> Block:
    """A tool_use block for a turn.  ``id`` is generated unless given; read it
    back from the returned dict (``blk["id"]``) to find its tool_result later."""
    return {"type": "tool_use", "id": id or new_tool_id(), "name": name, "input": dict(input or {})}


def bash(command: str, id: str | None = None, description: str | None = None, **extra: Any) -> Block:
    """Shorthand for a Bash tool_use."""
    inp: dict[str, Any] = {"command": command}
    if description is not None:
        inp["description"] = description
    inp.update(extra)
    return tool_use("Bash", inp, id=id)


def block_text(content: Any) -> str:
    """Flatten a message ``content`` (string, or list of blocks) to text.

    Text blocks contribute their ``text``; nested tool_result content is
    flattened too; other blocks (images, ...) are skipped."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for b in content:
        if isinstance(b, str):
            parts.append(b)
        elif isinstance(b, dict):
            if b.get("type") == "text":
                parts.append(b.get("text", ""))
            elif b.get("type") == "tool_result":
                parts.append(block_text(b.get("content")))
    return "\n".join(parts)


@dataclass
class Recorded:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    kind: str  # "main" | "subagent" | "side" | "compact" | "other"
    turn_index: int | None = None  # which turn of its script was served

    @property
    def agent_id(self) -> str | None:
        """Value of the ``x-claude-code-agent-id`` header (subagents only)."""
        for k, v in self.headers.items():
            if k.lower() == "x-claude-code-agent-id":
                return v
        return None

    @property
    def messages(self) -> list[dict[str, Any]]:
        return (self.body or {}).get("messages", [])

    @property
    def tools(self) -> list[dict[str, Any]]:
        return (self.body or {}).get("tools", []) or []

    @property
    def tool_names(self) -> list[str]:
        return [t.get("name") for t in self.tools]

    @property
    def system_text(self) -> str:
        s = (self.body or {}).get("system")
        return block_text(s) if s is not None else ""

    @property
    def first_user_text(self) -> str:
        for m in self.messages:
            if m.get("role") == "user":
                return block_text(m.get("content"))
        return ""

    def tool_results(self) -> list[dict[str, Any]]:
        out = []
        for m in self.messages:
            if m.get("role") == "user" and isinstance(m.get("content"), list):
                out.extend(b for b in m["content"] if isinstance(b, dict) and b.get("type") == "tool_result")
        return out

    def user_text(self) -> str:
        """All text the model is shown outside the system prompt and its own
        turns: user messages (prompt, ``<system-reminder>`` blocks, tool
        results) and mid-conversation ``role: "system"`` messages."""
        return "\n".join(block_text(m.get("content")) for m in self.messages if m.get("role") != "assistant")


class FakeModel:
    """Scripted Messages API server.  Use as a context manager or call
    :meth:`start` / :meth:`stop`.

    ``turns``: list of turns for the main conversation.
    ``subagent_turns``: either a list of turns served to *every* subagent
    conversation (each subagent starts at turn 0 of it), or a mapping from a
    substring of the subagent's prompt to that subagent's list of turns.
    ``main_prompt``: the ``-p`` prompt; used to tell main from subagent
    requests (``run_claude`` sets it).
    """

    def __init__(
        self,
        turns: Iterable[Turn] = (),
        *,
        subagent_turns: Iterable[Turn] | Mapping[str, Iterable[Turn]] | None = None,
        main_prompt: str | None = None,
        final_text: str = "done",
        side_text: str = "Fake title",
        compact_text: str = "<summary>Fake compaction summary.</summary>",
        model: str = "claude-sonnet-4-5",
        on_request: Callable[[Recorded], None] | None = None,
        fail_kinds: Mapping[str, int] | None = None,
    ) -> None:
        self.turns: list[list[Block]] = [list(t) for t in turns]
        if isinstance(subagent_turns, Mapping):
            self.subagent_turns: list[list[Block]] | dict[str, list[list[Block]]] | None = {
                k: [list(t) for t in v] for k, v in subagent_turns.items()
            }
        elif subagent_turns is not None:
            self.subagent_turns = [list(t) for t in subagent_turns]
        else:
            self.subagent_turns = None
        self.main_prompt = main_prompt
        self.final_text = final_text
        self.side_text = side_text
        self.compact_text = compact_text
        self.model = model
        self.on_request = on_request
        # kind of request ("main", "subagent", ...) -> HTTP status to answer it with, as an API
        # error (4xx are not retried by Claude Code): e.g. {"subagent": 400} kills every subagent
        self.fail_kinds = dict(fail_kinds or {})
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ server
    def start(self) -> "FakeModel":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:  # silence
                pass

            def _read_body(self) -> bytes:
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _send_json(self, obj: Any, status: int = 200) -> None:
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("request-id", f"req_fake_{next(_counter)}")
                self.end_headers()
                self.wfile.write(data)

            def do_HEAD(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                fake._record("GET", self.path, dict(self.headers), None, "other")
                if self.path.startswith("/v1/models"):
                    self._send_json({"data": [{"type": "model", "id": fake.model, "display_name": fake.model}],
                                     "has_more": False, "first_id": fake.model, "last_id": fake.model})
                else:
                    self._send_json({})

            def do_POST(self) -> None:
                raw = self._read_body()
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = None
                path = self.path.split("?", 1)[0]
                if path.endswith("/v1/messages/count_tokens"):
                    fake._record("POST", self.path, dict(self.headers), body, "other")
                    n = len(raw) // 4 + 1
                    self._send_json({"input_tokens": n})
                    return
                if not path.endswith("/v1/messages") or not isinstance(body, dict):
                    fake._record("POST", self.path, dict(self.headers), body, "other")
                    self._send_json({})
                    return
                status = fake.fail_kinds.get(fake.classify(body, dict(self.headers)))
                if status:
                    fake._record("POST", self.path, dict(self.headers), body, "failed")
                    self._send_json({"type": "error", "error": {"type": "invalid_request_error",
                                                                "message": "fake model: scripted failure"}}, status)
                    return
                rec, blocks, stop_reason = fake._plan(self.path, dict(self.headers), body)
                if body.get("stream"):
                    self._send_stream(blocks, stop_reason, body)
                else:
                    self._send_json(fake._message_json(blocks, stop_reason, body))

            def _send_stream(self, blocks: list[Block], stop_reason: str, body: dict) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.send_header("request-id", f"req_fake_{next(_counter)}")
                self.end_headers()
                self.close_connection = True
                for ev in fake._sse_events(blocks, stop_reason, body):
                    self.wfile.write(ev.encode())
                self.wfile.flush()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fakemodel", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "FakeModel":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------ scripting
    def classify(self, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> str:
        """Return "main", "subagent" or "side" for a /v1/messages request.

        Rules, in order (verified on Claude Code 2.1.332):

        1. no ``tools`` in the body -> "side" (title generation etc.);
           the last message asks for a text-only conversation summary ->
           "compact" (``/compact`` or auto-compaction; answered with
           ``compact_text``, script not consumed);
        2. header ``x-claude-code-agent-id`` present -> "subagent" (only
           subagent requests carry it; its value is the agent id that hooks
           see as ``agent_id``);
        3. the billing block of ``system`` contains ``cc_is_subagent=true``
           -> "subagent";
        4. (fallback, only when the system prompt has no billing block, i.e.
           another CLI version) if ``main_prompt`` is known: first user
           message contains it -> "main", else "subagent";
        5. otherwise "main".
        """
        if not body.get("tools"):
            return "side"
        msgs = body.get("messages") or []
        if msgs and _COMPACT_MARKER in block_text(msgs[-1].get("content")):
            return "compact"
        hdrs = {k.lower(): v for k, v in (headers or {}).items()}
        if hdrs.get("x-claude-code-agent-id"):
            return "subagent"
        sysblocks = body.get("system")
        if "cc_is_subagent=true" in block_text(sysblocks if sysblocks is not None else ""):
            return "subagent"
        if self.main_prompt is not None and "x-anthropic-billing-header" not in block_text(
                sysblocks if sysblocks is not None else ""):
            # Fallback for CLI versions without the markers above.
            first = ""
            for m in body.get("messages", []):
                if m.get("role") == "user":
                    first = block_text(m.get("content"))
                    break
            return "main" if self.main_prompt in first else "subagent"
        return "main"

    def turn_index(self, kind: str, body: dict[str, Any]) -> int:
        """Index of the script turn to serve: the number of assistant messages
        in the request.  For the main conversation only those after the last
        user message holding ``main_prompt`` as a text block count, so a
        ``--resume``/``--continue`` run starts at turn 0 of its own script."""
        msgs = body.get("messages", [])
        start = 0
        if kind == "main" and self.main_prompt is not None:
            want = self.main_prompt.strip()
            for i, m in enumerate(msgs):
                if m.get("role") != "user":
                    continue
                c = m.get("content")
                blocks = [{"type": "text", "text": c}] if isinstance(c, str) else (c or [])
                if any(isinstance(b, dict) and b.get("type") == "text" and b.get("text", "").strip() == want
                       for b in blocks):
                    start = i
        return sum(1 for m in msgs[start:] if m.get("role") == "assistant")

    def _script_for(self, kind: str, body: dict[str, Any]) -> list[list[Block]]:
        if kind == "main":
            return self.turns
        if kind == "subagent":
            st = self.subagent_turns
            if st is None:
                return []
            if isinstance(st, list):
                return st
            first = ""
            for m in body.get("messages", []):
                if m.get("role") == "user":
                    first = block_text(m.get("content"))
                    break
            for key, turns in st.items():
                if key in first:
                    return turns
            return []
        return []

    def _plan(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[Recorded, list[Block], str]:
        kind = self.classify(body, headers)
        idx: int | None = None
        if kind == "side":
            blocks: list[Block] = [text(self.side_text)]
        elif kind == "compact":
            blocks = [text(self.compact_text)]
        else:
            idx = self.turn_index(kind, body)
            script = self._script_for(kind, body)
            blocks = list(script[idx]) if idx < len(script) else [text(self.final_text)]
        rec = self._record("POST", path, headers, body, kind, idx)
        stop_reason = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
        return rec, blocks, stop_reason

    def _record(self, method: str, path: str, headers: dict[str, str], body: Any, kind: str,
                idx: int | None = None) -> Recorded:
        rec = Recorded(method, path, headers, body, kind, idx)
        with self._lock:
            self.requests.append(rec)
        if self.on_request:
            self.on_request(rec)
        return rec

    def _model_name(self, body: dict[str, Any]) -> str:
        return body.get("model") or self.model

    def _message_json(self, blocks: list[Block], stop_reason: str, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": f"msg_fake{next(_counter):06d}",
            "type": "message",
            "role": "assistant",
            "model": self._model_name(body),
            "content": blocks,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 5,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
        }

    def _sse_events(self, blocks: list[Block], stop_reason: str, body: dict[str, Any]) -> Iterable[str]:
        def ev(name: str, data: dict[str, Any]) -> str:
            return f"event: {name}\ndata: {json.dumps(data)}\n\n"

        msg = self._message_json([], None, body)  # type: ignore[arg-type]
        msg["usage"] = {"input_tokens": 10, "output_tokens": 1,
                        "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        yield ev("message_start", {"type": "message_start", "message": msg})
        for i, b in enumerate(blocks):
            if b["type"] == "text":
                yield ev("content_block_start", {"type": "content_block_start", "index": i,
                                                 "content_block": {"type": "text", "text": ""}})
                yield ev("content_block_delta", {"type": "content_block_delta", "index": i,
                                                 "delta": {"type": "text_delta", "text": b["text"]}})
            elif b["type"] == "tool_use":
                yield ev("content_block_start", {"type": "content_block_start", "index": i,
                                                 "content_block": {"type": "tool_use", "id": b["id"],
                                                                   "name": b["name"], "input": {}}})
                yield ev("content_block_delta", {"type": "content_block_delta", "index": i,
                                                 "delta": {"type": "input_json_delta",
                                                           "partial_json": json.dumps(b["input"])}})
            else:
                raise ValueError(f"unsupported block type {b['type']!r}")
            yield ev("content_block_stop", {"type": "content_block_stop", "index": i})
        yield ev("message_delta", {"type": "message_delta",
                                   "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                                   "usage": {"output_tokens": 5}})
        yield ev("message_stop", {"type": "message_stop"})

    # ------------------------------------------------------------ assertions
    def api_requests(self, kind: str | None = None) -> list[Recorded]:
        """Recorded /v1/messages requests, optionally only those of one kind."""
        with self._lock:
            reqs = [r for r in self.requests if r.method == "POST" and r.path.split("?")[0].endswith("/v1/messages")]
        return [r for r in reqs if kind is None or r.kind == kind]

    def tool_result(self, tool_use_id: str) -> dict[str, Any] | None:
        """The tool_result block for ``tool_use_id`` from the first request
        that carries it (main or subagent), or None."""
        for r in self.api_requests():
            for tr in r.tool_results():
                if tr.get("tool_use_id") == tool_use_id:
                    return tr
        return None

    def tool_result_is_error(self, tool_use_id: str) -> bool | None:
        """``is_error`` of the tool_result (absent counts as False)."""
        tr = self.tool_result(tool_use_id)
        return None if tr is None else bool(tr.get("is_error", False))

    def tool_result_text(self, tool_use_id: str) -> str | None:
        tr = self.tool_result(tool_use_id)
        return None if tr is None else block_text(tr.get("content"))

    def request_after(self, tool_use_id: str) -> Recorded | None:
        """The first request carrying the tool_result for ``tool_use_id``."""
        for r in self.api_requests():
            if any(tr.get("tool_use_id") == tool_use_id for tr in r.tool_results()):
                return r
        return None

    def shown_text(self, kind: str | None = None) -> str:
        """Everything the model was shown in non-assistant messages (prompt,
        ``<system-reminder>`` blocks, tool results, ``role: "system"``
        messages) across all recorded requests of ``kind`` (main and
        subagent requests if None).  Use for "never shown X" asserts."""
        reqs = [r for r in self.api_requests(kind) if kind is not None or r.kind in ("main", "subagent")]
        return "\n".join(r.user_text() for r in reqs)

    def all_text(self) -> str:
        """Every recorded body, JSON-dumped (system prompts, tools, all)."""
        return "\n".join(json.dumps(r.body) for r in self.api_requests())
