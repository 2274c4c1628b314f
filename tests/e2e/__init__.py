"""End-to-end tests driving the real Claude Code CLI against a fake model."""
