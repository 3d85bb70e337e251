"""Registries as a source and a sink of images: auth, the HTTP client, pull and push."""

from __future__ import annotations

import sys

# The registry client speaks HTTP through http.client (.http); other parts of dockyard use
# httpx, which imports its own command-line tool (click + rich, ~80 ms) unless that import
# fails: a None entry makes it fail, and httpx then goes without (we never use its CLI).
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
