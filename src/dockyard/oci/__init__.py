"""Pure OCI / Docker image spec data: digests, media types, descriptors, manifests, configs.

The names below are loaded on first use (PEP 562 module `__getattr__`): importing one
submodule, e.g. `dockyard.oci.digest`, does not pay for building every dataclass of the
package, which matters to short CLI runs such as a cached `dockyard build`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockyard.oci import mediatypes
    from dockyard.oci.config import History, ImageConfig, RootFS, format_time, now, parse_time
    from dockyard.oci.container_config import ContainerConfig, HealthConfig
    from dockyard.oci.descriptor import Descriptor
    from dockyard.oci.digest import Digest, Hasher, HashingReader, is_digest, validate_digest
    from dockyard.oci.index import Index, is_attestation, parse_document
    from dockyard.oci.manifest import Manifest
    from dockyard.oci.mediatypes import (
        is_config,
        is_index,
        is_layer,
        is_manifest,
        layer_compression,
        layer_media_type,
    )
    from dockyard.oci.platform import Platform, host_platform, normalize_arch

# public name -> the submodule defining it
_WHERE: dict[str, str] = {
    "ContainerConfig": "container_config",
    "Descriptor": "descriptor",
    "Digest": "digest",
    "Hasher": "digest",
    "HashingReader": "digest",
    "HealthConfig": "container_config",
    "History": "config",
    "ImageConfig": "config",
    "Index": "index",
    "Manifest": "manifest",
    "Platform": "platform",
    "RootFS": "config",
    "format_time": "config",
    "host_platform": "platform",
    "is_attestation": "index",
    "is_config": "mediatypes",
    "is_digest": "digest",
    "is_index": "mediatypes",
    "is_layer": "mediatypes",
    "is_manifest": "mediatypes",
    "layer_compression": "mediatypes",
    "layer_media_type": "mediatypes",
    "normalize_arch": "platform",
    "now": "config",
    "parse_document": "index",
    "parse_time": "config",
    "validate_digest": "digest",
}

__all__ = [
    "ContainerConfig",
    "Descriptor",
    "Digest",
    "Hasher",
    "HashingReader",
    "HealthConfig",
    "History",
    "ImageConfig",
    "Index",
    "Manifest",
    "Platform",
    "RootFS",
    "format_time",
    "host_platform",
    "is_attestation",
    "is_config",
    "is_digest",
    "is_index",
    "is_layer",
    "is_manifest",
    "layer_compression",
    "layer_media_type",
    "mediatypes",
    "normalize_arch",
    "now",
    "parse_document",
    "parse_time",
    "validate_digest",
]


def __getattr__(name: str) -> Any:
    if name == "mediatypes":
        return importlib.import_module("dockyard.oci.mediatypes")
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'dockyard.oci' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"dockyard.oci.{where}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
