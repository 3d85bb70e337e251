"""A registry that speaks the OCI distribution spec, served by `dockyard registry serve`."""

from __future__ import annotations

from dockyard.registry_server.app import ServerConfig, create_app

__all__ = ["ServerConfig", "create_app"]
