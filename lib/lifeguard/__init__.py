"""lifeguard: keeps a Claude Code session from going wrong and brings it back when it does.

The hot hooks (PreToolUse, PostToolUse) import only the stdlib parts of this package;
pydantic and filelock are imported lazily by the code paths that need them.
"""

VERSION = "0.1.0"
