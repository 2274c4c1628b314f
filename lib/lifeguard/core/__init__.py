"""Leaf utilities: clock (timestamps), fsutil (atomic, private, no-follow file I/O), locking (the
session flock), paths (the on-disk layout). Stdlib only; imports nothing else of lifeguard."""
