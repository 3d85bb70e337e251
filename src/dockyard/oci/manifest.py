"""Image manifests: OCI image manifest v1 and Docker image manifest v2 schema 2."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.oci import mediatypes as mt
from dockyard.oci._json import (
    expect,
    go_dumps,
    go_indent_dumps,
    int_field,
    loads_object,
    sorted_map,
    str_map,
)
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest

_KNOWN = {"schemaVersion", "mediaType", "artifactType", "config", "layers", "subject", "annotations"}
DOCKER_INDENT = "   "  # distribution's schema2 manifests are MarshalIndent(.., "", "   ")


def encode_document(body: dict[str, Any], docker: bool) -> bytes:
    """Docker schema2 documents as distribution writes them (3-space indent); OCI ones compact."""
    return go_indent_dumps(body, DOCKER_INDENT) if docker else go_dumps(body)


def check_schema_version(obj: dict[str, Any], what: str) -> int:
    version = int_field(obj, "schemaVersion", what)
    if version == 1 or mt.is_schema1(str(obj.get("mediaType") or "")):
        raise InvalidArgument(
            f"{what}: Docker image manifest schema 1 is not supported",
            hint="re-push the image with a current Docker or use schema 2 / OCI manifests",
        )
    if version != 2:
        raise InvalidArgument(f"{what}: unsupported schemaVersion {version!r} (want 2)")
    return version


@dataclass(frozen=True)
class Manifest:
    """An image manifest. Parsed manifests keep their exact bytes in `.raw` (digest source)."""

    config: Descriptor
    layers: tuple[Descriptor, ...] = ()
    media_type: str = mt.OCI_MANIFEST
    schema_version: int = 2
    annotations: dict[str, str] | None = None
    subject: Descriptor | None = None
    artifact_type: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    # Set only by from_json; any dataclasses.replace() drops it, so edits re-serialize.
    raw: bytes | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.layers, tuple):
            object.__setattr__(self, "layers", tuple(self.layers))

    @property
    def is_docker(self) -> bool:
        return self.media_type == mt.DOCKER_MANIFEST

    @property
    def effective_media_type(self) -> str:
        """The media type, defaulting to OCI's when the document leaves it out."""
        return self.media_type or mt.OCI_MANIFEST

    # -- JSON ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        docker = self.is_docker
        out: dict[str, Any] = {"schemaVersion": self.schema_version}
        if self.media_type:
            out["mediaType"] = self.media_type
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        out["config"] = self.config.to_dict(docker)
        out["layers"] = [layer.to_dict(docker) for layer in self.layers]
        if self.subject is not None:
            out["subject"] = self.subject.to_dict(docker)
        if self.annotations:
            out["annotations"] = sorted_map(self.annotations)
        out.update(self.extra)
        return out

    def to_json(self) -> bytes:
        """The exact parsed bytes, or a deterministic Go-style encoding for new manifests."""
        if self.raw is not None:
            return self.raw
        return encode_document(self.to_dict(), self.is_docker)

    @cached_property
    def digest(self) -> Digest:
        return Digest.from_bytes(self.to_json())

    def descriptor(self, **kw: Any) -> Descriptor:
        """A descriptor of this manifest (for an index or a registry PUT)."""
        return Descriptor.of(self.effective_media_type, self.to_json(), **kw)

    @classmethod
    def from_json(cls, raw: bytes, media_type: str | None = None) -> Manifest:
        """Parse a manifest; `media_type` (e.g. a Content-Type) is used when the body has none."""
        what = "image manifest"
        obj = loads_object(raw, what)
        manifest = cls.from_dict(obj, media_type)
        object.__setattr__(manifest, "raw", bytes(raw))
        return manifest

    @classmethod
    def from_dict(cls, obj: dict[str, Any], media_type: str | None = None) -> Manifest:
        what = "image manifest"
        version = check_schema_version(obj, what)
        body_type = expect(obj, "mediaType", str, what) or ""
        if mt.is_index(body_type) or ("manifests" in obj and "config" not in obj):
            raise InvalidArgument(f"{what}: this document is an image index, not a manifest")
        if "config" not in obj:
            raise InvalidArgument(f"{what}: missing config descriptor")
        layers = expect(obj, "layers", list, what) or []
        subject = obj.get("subject")
        return cls(
            config=Descriptor.from_dict(obj["config"], f"{what} config"),
            layers=tuple(
                Descriptor.from_dict(d, f"{what} layer {i}") for i, d in enumerate(layers)
            ),
            media_type=body_type or (media_type or ""),
            schema_version=version,
            annotations=str_map(obj, "annotations", what),
            subject=Descriptor.from_dict(subject, f"{what} subject") if subject is not None else None,
            artifact_type=expect(obj, "artifactType", str, what) or "",
            extra={k: v for k, v in obj.items() if k not in _KNOWN},
        )

    # -- edits ---------------------------------------------------------------------------

    def replace(self, **changes: Any) -> Manifest:
        return replace(self, **changes)

    def to_oci(self) -> Manifest:
        """The same manifest with OCI media types (a new document, new digest)."""
        return replace(
            self,
            media_type=mt.OCI_MANIFEST,
            config=self.config.replace(media_type=mt.to_oci(self.config.media_type)),
            layers=tuple(d.replace(media_type=mt.to_oci(d.media_type)) for d in self.layers),
        )

    def to_docker(self) -> Manifest:
        """The same manifest with Docker schema2 media types (a new document, new digest)."""
        return replace(
            self,
            media_type=mt.DOCKER_MANIFEST,
            config=self.config.replace(media_type=mt.to_docker(self.config.media_type)),
            layers=tuple(d.replace(media_type=mt.to_docker(d.media_type)) for d in self.layers),
        )
