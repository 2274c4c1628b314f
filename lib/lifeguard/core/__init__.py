"""Leaf utilities: clock (timestamps), fsutil (atomic, private, no-follow file I/O), graph
(directed graphs), later (work left for after the answer), lazyregex (regexes compiled on first
use), locking (the session flock), paths (the on-disk layout), proc (other processes, from /proc),
toollock (the tools' lock: filelock on the same protocol). Stdlib only, but for toollock's
filelock, which it imports when it first locks (never in a hook); imports nothing else of
lifeguard."""
