"""Pure OCI / Docker image spec data: digests, media types, descriptors, manifests, configs."""

from __future__ import annotations

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
