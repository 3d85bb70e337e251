"""Fixtures shared by the integration tests: `busybox_tar` (made once) and `dy` (a store with busybox)
for the build tests; `env` and `ours` (our registry server) for the registry tests."""

from __future__ import annotations

from helpers.dybuild import busybox_tar, dy  # noqa: F401 - re-exported as fixtures
from helpers.registry import env, ours  # noqa: F401 - the registry tests' fixtures
