"""Shared helpers for tests: real servers (in a thread or a process) and free ports."""
