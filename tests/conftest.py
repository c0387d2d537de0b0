"""Shared test set-up.

This file's presence also puts ``tests/`` on ``sys.path``: under pytest's
default ``prepend`` import mode, a conftest in a directory without
``__init__.py`` has its directory inserted there. That is how test modules
import helpers living beside them, e.g. ``from fake_github import FakeGitHub``.
"""

from __future__ import annotations
