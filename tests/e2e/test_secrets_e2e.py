"""No secret reaches lifeguard's files, end to end: the real Claude Code CLI runs Bash commands whose
text and output carry one of each secret form; afterwards nothing under .claude/ holds any of them,
and the same secret-bearing command repeated is still recognised as a repetition."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from .fakemodel import bash, text
from .harness import find_claude, run_claude

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(find_claude() is None, reason="claude CLI not installed")]

REPO = Path(__file__).resolve().parents[2]

# (secret, a command whose text and output both carry it)
SECRETS = {
    "AKIAQ3EGUWXYZ7EXAMPL": "echo aws key AKIAQ3EGUWXYZ7EXAMPL",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzSECRETk3y": "echo aws_secret_access_key=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",
    "AIzaSyQ9x8W7v6U5t4S3r2Q1p0OnMlKjIhGfEd1": "echo gcp AIzaSyQ9x8W7v6U5t4S3r2Q1p0OnMlKjIhGfEd1",
    "QXp1cmVTZWNyZXRLZXkwMTIzNDU2Nzg5==": "echo 'DefaultEndpointsProtocol=https;AccountName=acct;"
                                         "AccountKey=QXp1cmVTZWNyZXRLZXkwMTIzNDU2Nzg5==;EndpointSuffix=core.windows.net'",
    "ghp_E2eSecretToken0123456789abcdefghijAB": "echo ghp_E2eSecretToken0123456789abcdefghijAB",
    "github_pat_11E2ESECRET0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP":
        "echo github_pat_11E2ESECRET0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP",
    "glpat-E2eSecret0123456789xyz": "echo glpat-E2eSecret0123456789xyz",
    "xoxb-111122223333-444455556666-E2eSecretSlackTokenAbc": "echo xoxb-111122223333-444455556666-E2eSecretSlackTokenAbc",
    "sk_live_E2eSecret0123456789Stripe": "echo sk_live_E2eSecret0123456789Stripe",
    "sk-ant-api03-E2eSecret0123456789abcdefGHIJKL": "echo sk-ant-api03-E2eSecret0123456789abcdefGHIJKL",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJlMmVzZWNyZXQifQ.E2eSig0123456789abcdefghij":
        "echo token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJlMmVzZWNyZXQifQ.E2eSig0123456789abcdefghij",
    "MIIE2eSecretPrivateKeyBody0123456789": "printf -- '-----BEGIN RSA PRIVATE KEY-----\\n"
                                            "MIIE2eSecretPrivateKeyBody0123456789\\n-----END RSA PRIVATE KEY-----\\n'",
    "E2eBearer0123456789abcdef": "echo 'Authorization: Bearer E2eBearer0123456789abcdef'",
    "E2eUrlPassw0rd": "echo https://deploy:E2eUrlPassw0rd@example.com/repo.git",
    "E2eDbPass99": "echo DB_PASSWORD=E2eDbPass99",
}
REPEATED_SECRET = "hunter2E2eRepeat"
REPEATED = f"echo deploy --password {REPEATED_SECRET}"


def install(ws: Path) -> None:
    subprocess.run([str(REPO / "install.sh"), "--no-warm", str(ws)], check=True, capture_output=True, timeout=120)


def files_holding(folder: Path, needles: list[str]) -> dict[str, list[str]]:
    """Every regular file under `folder` (links are not followed) that holds one of `needles`."""
    found: dict[str, list[str]] = {}
    for base, _, names in os.walk(folder):
        for name in names:
            path = Path(base) / name
            if path.is_symlink() or not path.is_file():
                continue
            data = path.read_bytes()
            hits = [n for n in needles if n.encode() in data or json.dumps(n)[1:-1].encode() in data]
            if hits:
                found[str(path.relative_to(folder))] = hits
    return found


def test_no_secret_reaches_any_file_and_repeats_are_still_recognised(workspace: Path) -> None:
    install(workspace)
    calls = [bash(cmd) for cmd in SECRETS.values()]
    repeats = [bash(REPEATED) for _ in range(4)]
    turns = [[text("checking the credentials"), *calls]] + [[r] for r in repeats]
    res = run_claude(workspace, "E2E secrets: check the deploy credentials", turns, timeout=150)
    assert res.returncode == 0, res.describe()
    # the commands really ran and printed their secrets (so the hooks saw them)
    assert "ghp_E2eSecretToken0123456789abcdefghijAB" in (res.tool_result_text(calls[4]["id"]) or ""), res.describe()
    assert REPEATED_SECRET in (res.tool_result_text(repeats[-1]["id"]) or ""), res.describe()

    claude = workspace / ".claude"
    log = claude / "state" / f"events-{res.session_id}.jsonl"
    assert log.exists(), res.describe()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert sum(r["event"] == "PostToolUse" for r in records) == len(calls) + len(repeats)
    assert "[REDACTED:github-token:" in log.read_text() and "[REDACTED:private-key:" in log.read_text()

    assert files_holding(claude, [*SECRETS, REPEATED_SECRET]) == {}

    # the repeated command: identical redacted inputs, the same loop signature, and a repetition noticed
    posts = [r for r in records if r["event"] == "PostToolUse" and REPEATED.split(REPEATED_SECRET)[0]
             in r["input"]["command"]]
    assert len(posts) == 4
    assert len({json.dumps(r["input"], sort_keys=True) for r in posts}) == 1
    assert "[REDACTED:password:" in posts[0]["input"]["command"]
    if all("loop" in r for r in posts):  # the loops feature is installed
        assert len({r["loop"]["sig"] for r in posts}) == 1
        codes = [n["code"] for r in records for n in r.get("notices") or ()]
        assert "TOOL_LOOP_DETECTED" in codes, codes


def test_control_with_redaction_off_the_secrets_are_found(workspace: Path) -> None:
    """The check above can fail: switched off, the same kind of run leaves the secrets in the log."""
    install(workspace)
    config = workspace / ".claude" / "lifeguard.json"
    current = json.loads(config.read_text())
    current["redaction"]["enabled"] = False
    config.write_text(json.dumps(current))
    calls = [bash(SECRETS[s]) for s in ("ghp_E2eSecretToken0123456789abcdefghijAB", "E2eDbPass99")]
    res = run_claude(workspace, "E2E secrets: control", [calls], timeout=90)
    assert res.returncode == 0, res.describe()
    found = files_holding(workspace / ".claude", ["ghp_E2eSecretToken0123456789abcdefghijAB", "E2eDbPass99"])
    assert f"state/events-{res.session_id}.jsonl" in found, found
