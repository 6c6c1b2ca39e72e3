"""Shared pytest configuration: every test runs offline; servers bind to 127.0.0.1 only."""
