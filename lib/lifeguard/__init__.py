"""lifeguard: keeps a Claude Code session from going wrong and brings it back when it does.

The hot hooks (PreToolUse, PostToolUse) import only the stdlib parts of this package;
pydantic is imported lazily by the cold paths that validate (config, schema). filelock and
orjson are pinned in the hook headers but not imported yet (docs/ARCHITECTURE.md, Invariants).
The packages, one per concern, and the import rule between them: docs/ARCHITECTURE.md.
"""

VERSION = "0.1.0"
