"""Configuration: load (defaults merged with .claude/lifeguard.json, cached), model (the pydantic
model, cold path only).

May import: core."""
