"""Fixtures shared by the build integration tests: `busybox_tar` (made once) and `dy` (a store with busybox)."""

from __future__ import annotations

from helpers.dybuild import busybox_tar, dy  # noqa: F401 - re-exported as fixtures
