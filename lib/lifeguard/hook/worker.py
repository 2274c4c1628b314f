"""One hook run by a forked copy of the resident helper (helper.py), for one client (client.py).

The worker takes the request, says "A" with its pid, gets the hook's input with "G", runs the
ordinary runner on it, says "C" the moment the event record is durable, and answers "R" with
the exit code and what the hook wrote to stdout and stderr (the client prints them: so a
hook the client has to finish itself never prints twice). See wire.py for the bytes.
"""

from __future__ import annotations

import io
import os
import socket
import sys

from . import client, wire
from .timeout import deadline_for, settings_timeout


def serve(conn: socket.socket, inherited: dict[str, str]) -> None:
    """Serve one request on `conn`; any failure just closes it (the client then sees the hook
    through itself, client.py). `inherited`: the variables a hook passes (client.passed) as this
    process has them, from the helper (client.passed_env()); the hook's own replace them."""
    conn.settimeout(client.ACK_SECONDS)
    event, hook_file, cwd, invocation, env = wire.read_request(conn)
    # only what differs is changed: each change through os.environ encodes and calls putenv,
    # and reading the whole environment decodes every variable (0.2 ms of a worker's first run)
    for key in inherited.keys() - env.keys():
        del os.environ[key]
    for key, value in env.items():
        if inherited.get(key) != value:
            os.environ[key] = value
    conn.sendall(wire.accept(os.getpid()))
    # the client reads the hook's stdin before "G": at most until the hook's deadline
    conn.settimeout(deadline_for(settings_timeout()) + 1.0)
    if conn.recv(1) != wire.GO:
        return  # the client gave up (stdin never closed): nothing ran
    data = wire.recv_sized(conn, wire.MAX_INPUT_BYTES + 1)
    if data is None:
        return
    os.chdir(cwd)

    def confirm() -> None:
        try:
            conn.sendall(wire.WRITTEN)
        except OSError:
            pass  # the client is gone: the record is written all the same

    out, err = io.StringIO(), io.StringIO()
    sys.stdout, sys.stderr = out, err
    from .runner import run

    def answer() -> None:
        """The exit code (a runner always exits 0) and what the hook printed, once; then the client
        has its answer and the connection is closed."""
        if conn.fileno() < 0:
            return
        conn.settimeout(1.0)
        try:
            conn.sendall(wire.result(0, out.getvalue().encode("utf-8", "replace"),
                                     err.getvalue().encode("utf-8", "replace")))
        except OSError:
            pass  # the client went away: the hook still ran, and what it left for later is done
        conn.close()

    run(event, hook_file, raw=data, invocation=invocation, on_written=confirm, on_answered=answer)
    answer()  # when the runner returned before answering (lifeguard switched off)
    # what the hook left for later (core/later.py), once the client has its answer
    from ..core import later

    later.run()
