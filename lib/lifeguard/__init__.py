"""lifeguard: keeps a Claude Code session from going wrong and brings it back when it does.

The hot hooks (PreToolUse, PostToolUse) import only the stdlib parts of this package;
pydantic is imported lazily by the cold paths that validate (config, schema); orjson and
filelock by the tools only: orjson to read whole logs (store/jsoncodec.py), filelock for the
locks they take (core/toollock.py). Hooks import neither: each import costs more than it saves
them. docs/ARCHITECTURE.md, Invariants, says where each pinned package is used.
The packages, one per concern, and the import rule between them: docs/ARCHITECTURE.md.
"""

VERSION = "0.1.0"
