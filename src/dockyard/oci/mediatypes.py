"""OCI and Docker schema2 media types, and what kind of document or layer each one names."""

from __future__ import annotations

# OCI image-spec
OCI_DESCRIPTOR = "application/vnd.oci.descriptor.v1+json"
OCI_LAYOUT_HEADER = "application/vnd.oci.layout.header.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_NONDIST = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_NONDIST_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_LAYER_NONDIST_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
EMPTY_JSON = b"{}"
EMPTY_JSON_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

# Docker image manifest v2, schema 2
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_ZSTD = "application/vnd.docker.image.rootfs.diff.tar.zstd"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_PLUGIN_CONFIG = "application/vnd.docker.plugin.v1+json"
# Docker schema1 (read-only legacy; recognised so it can be refused clearly)
DOCKER_MANIFEST_V1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_MANIFEST_V1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

OCTET_STREAM = "application/octet-stream"

MANIFESTS = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEXES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
CONFIGS = frozenset({OCI_CONFIG, DOCKER_CONFIG})

# layer media type -> compression ("" = uncompressed tar)
_LAYER_COMPRESSION: dict[str, str] = {
    OCI_LAYER: "",
    OCI_LAYER_GZIP: "gzip",
    OCI_LAYER_ZSTD: "zstd",
    OCI_LAYER_NONDIST: "",
    OCI_LAYER_NONDIST_GZIP: "gzip",
    OCI_LAYER_NONDIST_ZSTD: "zstd",
    DOCKER_LAYER: "",
    DOCKER_LAYER_GZIP: "gzip",
    DOCKER_LAYER_ZSTD: "zstd",
    DOCKER_FOREIGN_LAYER: "gzip",
}
LAYERS = frozenset(_LAYER_COMPRESSION)
NONDISTRIBUTABLE = frozenset(
    {OCI_LAYER_NONDIST, OCI_LAYER_NONDIST_GZIP, OCI_LAYER_NONDIST_ZSTD, DOCKER_FOREIGN_LAYER}
)

# Docker schema2 <-> OCI equivalents
DOCKER_TO_OCI: dict[str, str] = {
    DOCKER_MANIFEST: OCI_MANIFEST,
    DOCKER_MANIFEST_LIST: OCI_INDEX,
    DOCKER_CONFIG: OCI_CONFIG,
    DOCKER_LAYER: OCI_LAYER,
    DOCKER_LAYER_GZIP: OCI_LAYER_GZIP,
    DOCKER_LAYER_ZSTD: OCI_LAYER_ZSTD,
    DOCKER_FOREIGN_LAYER: OCI_LAYER_NONDIST_GZIP,
}
OCI_TO_DOCKER: dict[str, str] = {v: k for k, v in DOCKER_TO_OCI.items()}


def base(media_type: str) -> str:
    """The media type without parameters (`; charset=...`) and surrounding blanks."""
    return media_type.split(";", 1)[0].strip()


def is_manifest(media_type: str) -> bool:
    return base(media_type) in MANIFESTS


def is_index(media_type: str) -> bool:
    return base(media_type) in INDEXES


def is_config(media_type: str) -> bool:
    return base(media_type) in CONFIGS


def is_layer(media_type: str) -> bool:
    return base(media_type) in LAYERS


def is_docker(media_type: str) -> bool:
    return base(media_type).startswith("application/vnd.docker.")


def is_nondistributable(media_type: str) -> bool:
    return base(media_type) in NONDISTRIBUTABLE


def is_schema1(media_type: str) -> bool:
    return base(media_type) in (DOCKER_MANIFEST_V1, DOCKER_MANIFEST_V1_SIGNED)


def layer_compression(media_type: str) -> str | None:
    """`""` for a plain tar, `"gzip"` or `"zstd"`; None when it is not a known layer type.

    Unknown `+gzip`/`+zstd` suffixed types (artifacts) are answered by their suffix.
    """
    mt = base(media_type)
    if mt in _LAYER_COMPRESSION:
        return _LAYER_COMPRESSION[mt]
    if mt.endswith("+gzip") or mt.endswith(".gzip"):
        return "gzip"
    if mt.endswith("+zstd") or mt.endswith(".zstd"):
        return "zstd"
    return None


def layer_media_type(compression: str = "", docker: bool = False) -> str:
    """The layer media type for a compression (`""`, `"gzip"`, `"zstd"`), OCI or Docker flavour."""
    table = {
        "": (OCI_LAYER, DOCKER_LAYER),
        "gzip": (OCI_LAYER_GZIP, DOCKER_LAYER_GZIP),
        "zstd": (OCI_LAYER_ZSTD, DOCKER_LAYER_ZSTD),
    }
    if compression not in table:
        raise ValueError(f"unknown layer compression {compression!r}")
    return table[compression][1 if docker else 0]


def to_oci(media_type: str) -> str:
    return DOCKER_TO_OCI.get(media_type, media_type)


def to_docker(media_type: str) -> str:
    return OCI_TO_DOCKER.get(media_type, media_type)
