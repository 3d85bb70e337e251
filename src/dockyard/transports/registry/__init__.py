"""Registries as a source and a sink of images: auth, the HTTP client, pull and push."""

from __future__ import annotations
