#!/usr/bin/env python3
"""Replay real agent sessions through an installed lifeguard, beside OpenHands' stuck rules.

    python3 bench/replay.py [--corpus DIR] [--sample] [--json FILE] [SESSION ...]

The corpus (public sessions recorded by others) is not in this repository: it is read from
`--corpus DIR`, else `$LIFEGUARD_REPLAY_CORPUS`, else `<repo>/../shared/replay-corpus` (a copy
of the shared folder beside the clone). bench/replay-corpus.md lists its files, their sources
and how to rebuild it. Without it: exit 2, saying where it looked. A SESSION may also be the
path of a session file in one of the three formats below (then no corpus is needed).

Each session (a Claude Code transcript .jsonl, a SWE-agent .traj, an OpenHands history .json)
becomes the hook events Claude Code would send for it: SessionStart; UserPromptSubmit for each
user message; for each tool call PreToolUse, then PostToolUse with its real output or
PostToolUseFailure with its real error; Stop at the end of each turn; SessionEnd. A call that failed Claude Code's own
validation (`<tool_use_error>`) fires no hook, exactly as in Claude Code: it only appears in
the transcript, which is written next to the workspace line by line as the session goes, at
the `transcript_path` every hook receives. A call lifeguard refuses does not run (no
PostToolUse), as in Claude Code.

The hooks are those of a pack installed with install.sh into a temporary workspace, each
run as settings.json says (its command through `sh -c`, the event on stdin).

Every refusal and warning is judged by a rule written down here (`judge`), and OpenHands'
StuckDetector rules (openhands_rules.py) run on the same calls. Printed per session: each
finding with its step and rule, judged justified or false, beside OpenHands' findings, and
whether lifeguard caught each loop OpenHands catches no later than it does.
Exits 1 when a refusal is judged false or a loop OpenHands catches is missed or caught later.

Steps count every tool call of the session, 1-based, hook-visible or not. A warning after
step i, a refusal of step i+1 and an OpenHands detection after step i are all "at i": the
point from which the agent is told (or stopped).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import openhands_rules  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CORPUS_ENV = "LIFEGUARD_REPLAY_CORPUS"
DEFAULT_CORPUS = REPO.parent / "shared" / "replay-corpus"
# The default test run replays these (short, and between them: a real repeat loop, hidden
# validation failures, and long stretches of progress with repeated commands).
SAMPLE = ("swe-ctf-eps.traj", "cc-spotter-agent-a2898e3.jsonl", "oh-ponyc-4588.json")
HOOK_TIMEOUT = 60
DIGITS = re.compile(r"\d+")


# -- sessions: each corpus format as a list of items ------------------------------------------
# item: {"kind": "prompt", "text"} | {"kind": "stop", "text"} |
#       {"kind": "call", "tool", "input", "ok", "text", "hidden", "interrupt", "ts"}


def _text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return json.dumps(content)


def _epoch(ts: str | None) -> float | None:
    if not ts:
        return None
    try:
        return time.mktime(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")) + float("0" + ts[19:].rstrip("Z")[:7] or 0)
    except ValueError:
        return None


def load_claude(path: Path) -> list[dict]:
    """A Claude Code transcript (JSONL)."""
    items: list[dict] = []
    pending: dict[str, dict] = {}
    last_text = ""
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        content = (rec.get("message") or {}).get("content")
        if rec.get("type") == "assistant" and isinstance(content, list):
            for block in content:
                if block.get("type") == "text":
                    last_text = block.get("text", "")
                elif block.get("type") == "tool_use":
                    call = {"kind": "call", "tool": block["name"], "input": block.get("input") or {},
                            "ts": _epoch(rec.get("timestamp"))}
                    pending[block["id"]] = call
        elif rec.get("type") == "user":
            results = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"] \
                if isinstance(content, list) else []
            for block in results:
                call = pending.pop(block.get("tool_use_id"), None)
                if call is None:
                    continue
                text = _text(block.get("content"))
                call.update(ok=not block.get("is_error"), text=text, hidden="<tool_use_error>" in text,
                            interrupt="[Request interrupted by user" in text)
                items.append(call)
            if not results:
                prompt = _text(content)
                if prompt.startswith("[Request interrupted"):
                    continue
                if items:
                    items.append({"kind": "stop", "text": last_text})
                items.append({"kind": "prompt", "text": prompt})
    items.append({"kind": "stop", "text": last_text})
    return items


def load_swe_agent(path: Path) -> list[dict]:
    """A SWE-agent trajectory: every action is a shell command and succeeds (no exit codes kept)."""
    data = json.loads(path.read_text())
    items: list[dict] = [{"kind": "prompt", "text": "Solve the task."}]
    for step in data["trajectory"]:
        action = (step.get("action") or "").strip()
        if action:
            items.append({"kind": "call", "tool": "Bash", "input": {"command": action}, "ok": True,
                          "text": step.get("observation") or "", "hidden": False, "interrupt": False, "ts": None})
    items.append({"kind": "stop", "text": ""})
    return items


def load_openhands(path: Path) -> list[dict]:
    """An OpenHands history: run -> Bash (exit code kept), read -> Read, edit -> Edit/Write.

    A failed edit ("ERROR: ...", e.g. no replacement performed) is what Claude Code's own
    validation rejects for Edit (old_string not found, not unique): a hidden call.
    """
    data = json.loads(path.read_text())
    items: list[dict] = []
    actions: dict[str, dict] = {}
    for ev in data["history"]:
        if "action" in ev and ev.get("source") == "user" and ev["action"] == "message":
            items.append({"kind": "prompt", "text": (ev.get("args") or {}).get("content", "")})
            continue
        if "action" in ev and ev["action"] in ("run", "read", "edit"):
            args = ev.get("args") or {}
            if ev["action"] == "run":
                call = {"tool": "Bash", "input": {"command": args.get("command", "")}}
            elif ev["action"] == "read":
                view = args.get("view_range") or []
                extent = {"offset": view[0], "limit": view[1] - view[0] + 1} if len(view) == 2 and view[1] > 0 else {}
                call = {"tool": "Read", "input": {"file_path": args.get("path", ""), **extent}}
            elif args.get("file_text") is not None:
                call = {"tool": "Write", "input": {"file_path": args.get("path", ""), "content": args["file_text"]}}
            else:
                call = {"tool": "Edit", "input": {"file_path": args.get("path", ""),
                                                   "old_string": args.get("old_str") or "",
                                                   "new_string": args.get("new_str") or ""}}
            actions[str(ev["id"])] = {"kind": "call", **call, "ts": _epoch(ev.get("timestamp"))}
        elif "observation" in ev and str(ev.get("cause")) in actions:
            call = actions.pop(str(ev["cause"]))
            text = ev.get("content") or ""
            if call["tool"] == "Bash":
                code = ((ev.get("extras") or {}).get("metadata") or {}).get("exit_code")
                ok = code in (0, None)
                call.update(ok=ok, text=text if ok else f"Exit code {code}\n{text}", hidden=False)
            else:
                failed = ev["observation"] == "error" or text.startswith("ERROR:")
                call.update(ok=not failed, hidden=failed and call["tool"] in ("Edit", "Write"),
                            text=f"<tool_use_error>{text}</tool_use_error>" if failed else text)
            call["interrupt"] = False
            items.append(call)
    items.append({"kind": "stop", "text": ""})
    return items


LOADERS = {".jsonl": load_claude, ".traj": load_swe_agent, ".json": load_openhands}


def corpus_dir(given: Path | None = None) -> tuple[Path, str]:
    """Where the corpus is looked for, and why there: `given` (--corpus), else
    $LIFEGUARD_REPLAY_CORPUS, else shared/replay-corpus beside the repository. Not checked here."""
    if given is not None:
        return given, "--corpus"
    if os.environ.get(CORPUS_ENV):
        return Path(os.environ[CORPUS_ENV]), f"${CORPUS_ENV}"
    return DEFAULT_CORPUS, "the default: shared/replay-corpus beside the repository"


def corpus_sessions(corpus: Path) -> list[str]:
    """The session files in `corpus`, by name; empty when it is missing or holds none."""
    if not corpus.is_dir():
        return []
    return sorted(p.name for p in corpus.iterdir() if p.suffix in LOADERS and p.is_file())


def missing_corpus(corpus: Path, source: str) -> str:
    """What to tell someone whose corpus folder is missing or empty: where we looked, how to provide it."""
    state = "holds no session files" if corpus.is_dir() else "does not exist"
    return (f"replay: no replay corpus: {corpus} ({source}) {state}.\n"
            f"The corpus is kept outside this repository. Point to it with --corpus DIR or {CORPUS_ENV}=DIR,\n"
            f"or place a copy of the shared folder beside the repository ({DEFAULT_CORPUS});\n"
            f"bench/replay-corpus.md lists its files and how to rebuild it.")


def load(path: Path) -> list[dict]:
    return LOADERS[path.suffix](path)


# -- the judge -------------------------------------------------------------------------------


def _outcome(step: dict) -> tuple:
    return (step["ok"], " ".join(DIGITS.sub("#", step.get("text") or "").split()))


def _call(step: dict) -> str:
    return step["tool"] + "\0" + json.dumps(step["input"], sort_keys=True)


def judge(steps: list[dict], upto: int, named: dict | None) -> bool:
    """Is a finding at step `upto` (1-based, over `steps`: the calls since the last prompt,
    renumbered) about a real loop?

    The written rule: justified when the calls up to and including `upto` end with the same
    1, 2 or 3 calls repeated in the same order, each with the same outcome as in the round
    before (success or failure, and the output text with every number masked), over at least
    3 runs for a single call or 2 full rounds for a cycle, and `named` (the call refused, if
    any) is one of them. A single call that succeeds each time is not a loop when
    the waits between its runs keep growing (that is waiting for something).
    """
    tail = steps[:upto]
    for k in (1, 2, 3):
        rounds = 3 if k == 1 else 2
        if len(tail) < k * rounds:
            continue
        window = tail[-k * rounds:]
        if len({_call(s) for s in window[:k]}) != k:
            continue
        if not all(_call(window[i]) == _call(window[i - k]) and _outcome(window[i]) == _outcome(window[i - k])
                   for i in range(k, len(window))):
            continue
        if named is not None and _call(named) not in {_call(s) for s in window}:
            continue
        if k == 1 and window[-1]["ok"] and _growing_waits(window):
            continue
        return True
    return False


def _growing_waits(window: list[dict]) -> bool:
    times = [s.get("ts") for s in window]
    if any(t is None for t in times):
        return False
    gaps = [b - a for a, b in zip(times, times[1:])]
    return all(b > a * 1.2 for a, b in zip(gaps, gaps[1:]))


# -- running the installed hooks ---------------------------------------------------------------


class Pack:
    """lifeguard installed by install.sh into a temporary workspace; hooks run as settings.json says."""

    def __init__(self, root: Path):
        self.ws = root / "ws"
        self.ws.mkdir()
        subprocess.run([str(REPO / "install.sh"), "--no-warm", str(self.ws)], check=True, capture_output=True,
                       timeout=300)
        settings = json.loads((self.ws / ".claude" / "settings.json").read_text())
        self.commands = {event: [h["command"] for entry in entries for h in entry["hooks"]]
                         for event, entries in settings["hooks"].items()}
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE", "LIFEGUARD"))}
        self.env["CLAUDE_PROJECT_DIR"] = str(self.ws)
        self.faults: list[str] = []

    def fire(self, event: str, data: dict) -> dict:
        """Run the event's hooks; what Claude Code would take from them."""
        out: dict = {"deny": None, "context": [], "user": []}
        for command in self.commands.get(event, ()):
            proc = subprocess.run(["sh", "-c", command], input=json.dumps(data).encode(), capture_output=True,
                                  cwd=self.ws, env=self.env, timeout=HOOK_TIMEOUT)
            if proc.returncode != 0 or proc.stderr.strip():
                self.faults.append(f"{event}: exit {proc.returncode}: {proc.stderr.decode()[:300]}")
            try:
                answer = json.loads(proc.stdout or b"{}")
            except ValueError:
                self.faults.append(f"{event}: not JSON: {proc.stdout[:200]!r}")
                continue
            specific = answer.get("hookSpecificOutput") or {}
            if specific.get("permissionDecision") == "deny":
                out["deny"] = specific.get("permissionDecisionReason")
            if specific.get("additionalContext"):
                out["context"].append(specific["additionalContext"])
            if answer.get("systemMessage"):
                out["user"].append(answer["systemMessage"])
        return out

    def notices(self, session: str, seen: int) -> tuple[list[dict], int]:
        """Loop notices lifeguard logged since record number `seen`."""
        log = self.ws / ".claude" / "state" / f"events-{session}.jsonl"
        if not log.exists():
            return [], seen
        records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        found = [n for r in records[seen:] for n in r.get("notices") or ()
                 if str(n.get("code", "")).startswith("TOOL_LOOP")]
        return found, len(records)

    def close(self) -> None:
        sock = self.ws / ".claude" / "state" / "helper.sock"
        if sock.exists():  # the resident helper exits when its socket goes
            sock.unlink()


def replay(path: Path, pack: Pack, root: Path) -> dict:
    items = load(path)
    session = str(uuid.uuid5(uuid.NAMESPACE_URL, path.name))  # a UUID, as Claude Code gives: used as is in file names
    transcript = root / f"{session}.jsonl"
    transcript.write_text("")
    base = {"session_id": session, "transcript_path": str(transcript), "cwd": str(pack.ws),
            "permission_mode": "default"}
    lines: list[str] = []

    def write(*recs: dict) -> None:
        with open(transcript, "a") as f:
            for rec in recs:
                f.write(json.dumps(rec) + "\n")

    def stamp(item: dict | None = None) -> str:
        t = (item or {}).get("ts")
        return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t)) if t else \
            time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())

    steps: list[dict] = []  # every recorded call, in order (numbered as OpenHands' steps are)
    lifeguard: list[dict] = []
    seen = 0
    turn_start = 0

    def collect(point: int, event: str, answer: dict, call: dict | None) -> None:
        nonlocal seen
        found, seen = pack.notices(session, seen)
        for n in found:
            kind = "refusal" if n.get("kind") == "deny" else "warning"
            lifeguard.append({"at": point, "kind": kind, "rule": n.get("rule", "?"), "event": event,
                              "message": (answer["deny"] if kind == "refusal" else " ".join(answer["context"]))
                              or n.get("message", ""),
                              "named": call, "turn_start": turn_start})

    pack.fire("SessionStart", {**base, "hook_event_name": "SessionStart", "source": "startup"})
    _, seen = pack.notices(session, 0)
    for n, item in enumerate(items):
        if item["kind"] == "prompt":
            write({"type": "user", "timestamp": stamp(), "message": {"role": "user", "content": item["text"]}})
            pack.fire("UserPromptSubmit", {**base, "hook_event_name": "UserPromptSubmit", "prompt": item["text"]})
            turn_start = len(steps)
            _, seen = pack.notices(session, seen)
            continue
        if item["kind"] == "stop":
            answer = pack.fire("Stop", {**base, "hook_event_name": "Stop", "stop_hook_active": False,
                                        "last_assistant_message": item["text"]})
            collect(len(steps), "Stop", answer, None)
            continue
        tuid = f"toolu_{n:08d}"
        use = {"type": "assistant", "timestamp": stamp(item), "message": {"role": "assistant", "content": [
            {"type": "tool_use", "id": tuid, "name": item["tool"], "input": item["input"]}]}}
        result = {"type": "user", "timestamp": stamp(item), "message": {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": tuid, "content": item["text"],
             **({"is_error": True} if not item["ok"] else {})}]}}
        if item["hidden"]:  # Claude Code's validation rejected it: no hook at all
            write(use, result)
            steps.append(item)
            continue
        write(use)
        call = {**base, "tool_name": item["tool"], "tool_input": item["input"], "tool_use_id": tuid}
        answer = pack.fire("PreToolUse", {**call, "hook_event_name": "PreToolUse"})
        collect(len(steps), "PreToolUse", answer, item)
        if answer["deny"]:
            write({"type": "user", "timestamp": stamp(item), "message": {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": tuid, "is_error": True,
                 "content": f"PreToolUse:{item['tool']} hook error: {answer['deny']}"}]}})
            steps.append({**item, "refused": True})
            continue  # refused: it does not run; the session goes on as recorded
        steps.append(item)
        if item["ok"]:
            response = {"stdout": item["text"], "stderr": "", "interrupted": False, "isImage": False} \
                if item["tool"] == "Bash" else item["text"]
            answer = pack.fire("PostToolUse", {**call, "hook_event_name": "PostToolUse", "tool_response": response})
            collect(len(steps), "PostToolUse", answer, item)
        else:
            answer = pack.fire("PostToolUseFailure", {**call, "hook_event_name": "PostToolUseFailure",
                                                      "error": item["text"], "is_interrupt": item["interrupt"]})
            collect(len(steps), "PostToolUseFailure", answer, item)
        write(result)
    pack.fire("SessionEnd", {**base, "hook_event_name": "SessionEnd", "reason": "other"})
    return {"session": path.name, "steps": steps, "hidden": sum(1 for s in steps if s["hidden"]),
            "lifeguard": lifeguard, "openhands": openhands(items)}


def openhands(items: list[dict]) -> list[dict]:
    """OpenHands' detections on the calls (all of them: OpenHands sees every step), one per incident."""
    found, since, step, was = [], [], 0, None
    for item in items:
        if item["kind"] == "prompt":
            since, was = [], None
        if item["kind"] != "call":
            continue
        step += 1
        since.append(item)
        rule = openhands_rules.stuck(since)
        if rule and rule != was:
            found.append({"at": step, "rule": rule, "named": item, "turn_start": step - len(since)})
        was = rule
    return found


def assess(result: dict) -> dict:
    """Judge every finding, and match each loop OpenHands catches with lifeguard's findings."""
    steps = result["steps"]
    for f in result["lifeguard"] + result["openhands"]:
        since, upto = steps[f["turn_start"]:], f["at"] - f["turn_start"]
        # a refusal is about the call it refused; a warning (or a detection) about the calls before it
        named = f["named"] if f.get("kind") == "refusal" else None
        f["justified"] = upto > 0 and judge(since, upto, named)
    for oh in result["openhands"]:
        if not oh["justified"]:
            oh["caught"] = None  # not a loop by the written rule: nothing to catch
            continue
        loop = {_call(s) for s in steps[max(oh["turn_start"], oh["at"] - 6): oh["at"]]}
        oh["caught"] = any(oh["at"] - 6 < f["at"] <= oh["at"] and f["justified"]
                           and (f["kind"] == "warning" or _call(f["named"]) in loop)
                           for f in result["lifeguard"])
    return result


def _row(f: dict) -> str:
    verdict = "justified" if f["justified"] else "FALSE"
    named = f["named"]
    label = f"{named['tool']}: {str(named['input'].get('command') or named['input'].get('file_path') or '')[:50]}" \
        if named else "-"
    return f"  step {f['at']:>4}  {f.get('kind', 'stuck'):8} {f['rule']:28} {verdict:9}  {label}"


def report(results: list[dict]) -> tuple[str, bool]:
    out, bad = [], False
    totals = {"sessions": 0, "calls": 0, "hidden": 0, "refusals": 0, "false_refusals": 0, "warnings": 0,
              "false_warnings": 0, "openhands": 0, "openhands_false": 0, "missed": 0}
    for r in results:
        totals["sessions"] += 1
        totals["calls"] += len(r["steps"])
        totals["hidden"] += r["hidden"]
        out.append(f"\n{r['session']}: {len(r['steps'])} calls ({r['hidden']} seen by no hook)")
        for f in r["lifeguard"]:
            key = "refusals" if f["kind"] == "refusal" else "warnings"
            totals[key] += 1
            if not f["justified"]:
                totals["false_" + key] += 1
                bad = bad or f["kind"] == "refusal"
            out.append("  lifeguard" + _row(f)[1:])
        for f in r["openhands"]:
            totals["openhands"] += 1
            totals["openhands_false"] += not f["justified"]
            caught = {None: "", True: "  caught by lifeguard no later", False: "  MISSED (or later) by lifeguard"}
            if f["caught"] is False:
                totals["missed"] += 1
                bad = True
            out.append("  openhands" + _row(f)[1:] + caught[f["caught"]])
        if not r["lifeguard"] and not r["openhands"]:
            out.append("  no findings")
    out.append("\n" + ", ".join(f"{k}: {v}" for k, v in totals.items()))
    return "\n".join(out), bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sessions", nargs="*",
                        help="sessions to replay: names in the corpus, or paths of session files (default: all the corpus)")
    parser.add_argument("--corpus", type=Path, metavar="DIR",
                        help=f"the corpus folder (default: ${CORPUS_ENV}, else {DEFAULT_CORPUS})")
    parser.add_argument("--sample", action="store_true", help=f"only the sample: {', '.join(SAMPLE)}")
    parser.add_argument("--json", type=Path, help="also write the findings here")
    args = parser.parse_args(argv)
    corpus, source = corpus_dir(args.corpus)
    if args.sessions:
        paths = [Path(s) if Path(s).is_file() or os.sep in s else corpus / s for s in args.sessions]
    else:
        paths = [corpus / s for s in (SAMPLE if args.sample else corpus_sessions(corpus))]
    absent = [p for p in paths if not p.is_file()]
    if args.sessions and absent:
        print(f"replay: no such session file: {', '.join(map(str, absent))}", file=sys.stderr)
    if (not paths or any(p.parent == corpus for p in absent)) and not corpus_sessions(corpus):
        print(missing_corpus(corpus, source), file=sys.stderr)
    unknown = [str(p) for p in paths if p.suffix not in LOADERS]
    if unknown:
        print(f"replay: not a session format ({', '.join(LOADERS)}): {', '.join(unknown)}", file=sys.stderr)
    if not paths or absent or unknown:
        return 2
    if not shutil.which("uv"):
        print("replay: uv is not installed", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="lifeguard-replay-"))
    pack = Pack(root)
    results = []
    try:
        for path in paths:
            started = time.monotonic()
            results.append(assess(replay(path, pack, root)))
            print(f"replay: {path.name} in {time.monotonic() - started:.0f}s", file=sys.stderr, flush=True)
    finally:
        pack.close()
        shutil.rmtree(root, ignore_errors=True)
    text, bad = report(results)
    print(text)
    if pack.faults:
        print(f"\nreplay: hooks failed open {len(pack.faults)} times; first: {pack.faults[0]}", file=sys.stderr)
        bad = True
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
