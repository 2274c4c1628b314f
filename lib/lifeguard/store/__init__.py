"""The durable session: record (the event record: built small and scrubbed from a hook's input),
eventlog (the truth), state (the snapshot's shape), snapshot (compacted log bases), reducer
(folds records with the reducers it is given), inflight (the record not yet durable), session
(SessionStore: lock, load, catch up, commit, spool), jsoncodec (the JSON of all of them).

May import: core, redact. Never features (the reducer takes the list), alerts, hook, commands.
One exception, lazy and cold: an unreadable state file runs upkeep.repair's recovery ladder."""
