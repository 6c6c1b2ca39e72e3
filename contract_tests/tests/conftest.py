"""Shared pytest configuration: every test runs offline; servers bind to 127.0.0.1 only.

Under CI (``CI`` set) hypothesis draws the same examples every run (``derandomize``), so a failure there
is a regression, not a lucky draw; local runs keep exploring new examples.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
