"""The bytes between a hook's client and the resident helper's worker (no imports but environ).

On `.claude/state/helper.sock`, one connection per hook invocation:
  client -> worker  request  MAGIC, length, NUL-joined: event, hook file, cwd, invocation id,
                             then the LIFEGUARD_* / CLAUDE_PROJECT_DIR variables as KEY=VALUE
  worker -> client  b"A" + pid      the worker holds the request (its pid, so the client can end it)
  client -> worker  b"G" + length + the hook's stdin: from here the worker runs the hook
  worker -> client  b"C"            the event record is durable (in the log or the spool)
  worker -> client  b"R" + exit code + length + stdout + length + stderr
The client keeps the input until "R": a worker that dies (or stops answering) before "C"
leaves the hook to the client, which runs it once, after the worker is gone and after
checking by the invocation id that the record is not already written (client.py).
"""

from .environ import fsencode

SOCKET = "helper.sock"  # in the state folder
MAGIC = b"LGH2"
ACCEPT, GO, WRITTEN, RESULT = b"A", b"G", b"C", b"R"
MAX_INPUT_BYTES = 8 * 1024 * 1024  # a hook's stdin beyond this is refused (protocol.parse says so)
MAX_REQUEST = 1 << 20  # the request line (paths and variables); the input travels with "G"


def _n(value: int) -> bytes:
    return value.to_bytes(4, "big")


def request(event: str, hook_file: str, cwd: str, invocation: str, env: dict) -> bytes:
    parts = [event, hook_file, cwd, invocation] + [f"{k}={v}" for k, v in env.items()]
    body = b"\0".join(fsencode(p) for p in parts)
    return MAGIC + _n(len(body)) + body


def accept(pid: int) -> bytes:
    return ACCEPT + _n(pid)


def go(data: bytes) -> bytes:
    return GO + _n(len(data)) + data


def result(code: int, out: bytes, err: bytes) -> bytes:
    return RESULT + bytes([code & 0xFF]) + _n(len(out)) + out + _n(len(err)) + err


def recv_exact(sock, size: int) -> bytes:
    """`size` bytes from `sock`; fewer only when the peer closed first."""
    chunks, have = [], 0
    while have < size:
        chunk = sock.recv(min(size - have, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        have += len(chunk)
    return b"".join(chunks)


def recv_sized(sock, limit: int) -> bytes | None:
    """A 4-byte length then that many bytes; None when cut short or over `limit`."""
    head = recv_exact(sock, 4)
    size = int.from_bytes(head, "big") if len(head) == 4 else -1
    if size < 0 or size > limit:
        return None
    body = recv_exact(sock, size)
    return body if len(body) == size else None


def read_request(sock) -> tuple[str, str, str, str, dict[str, str]]:
    """(event, hook file, cwd, invocation id, variables); ValueError for anything else."""
    import os

    if recv_exact(sock, 4) != MAGIC:
        raise ValueError("not a lifeguard request")
    body = recv_sized(sock, MAX_REQUEST)
    parts = [os.fsdecode(p) for p in body.split(b"\0")] if body is not None else []
    if len(parts) < 4:
        raise ValueError("request cut short")
    event, hook_file, cwd, invocation = parts[:4]
    env = dict(p.split("=", 1) for p in parts[4:] if "=" in p)
    return event, hook_file, cwd, invocation, env


def read_result(sock, limit: int) -> tuple[int, bytes, bytes] | None:
    """What follows an "R": (exit code, stdout, stderr), or None when cut short."""
    code = recv_exact(sock, 1)
    out = recv_sized(sock, limit) if code else None
    err = recv_sized(sock, limit) if out is not None else None
    return (code[0], out, err) if err is not None else None
