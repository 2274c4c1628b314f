"""Leaf utilities: clock (timestamps), fsutil (atomic, private, no-follow file I/O), lazyregex
(regexes compiled on first use), locking (the session flock), toollock (the tools' lock: filelock
on the same protocol), paths (the on-disk layout). Stdlib only, but for toollock's filelock, which
it imports when it first locks (never in a hook); imports nothing else of lifeguard."""
