"""Leaf utilities: clock (timestamps), environ (the environment, read without importing os),
fsutil (atomic, private, no-follow file I/O), graph (directed graphs), later (work left for after
the answer), lazyregex (regexes compiled on first use), locking (the session flock), paths (the
on-disk layout), proc (other processes, from /proc), toollock (the tools' lock: filelock on the
same protocol), trust (whether the state folder is ours to write in). Stdlib only, but for
toollock's filelock, which it imports when it first locks (never in a hook); imports nothing
else of lifeguard."""
