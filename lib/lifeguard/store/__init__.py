"""The durable session: eventlog (the truth), state (the snapshot's shape), snapshot (compacted log
bases), reducer (folds records with the reducers it is given), inflight (the record not yet
durable), session (SessionStore: lock, load, catch up, commit, spool).

May import: core. Never features (the reducer takes the list), upkeep, hook."""
