"""Image indexes: OCI image index v1 and Docker manifest list v2 (multi-platform images)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from dockyard.errors import InvalidArgument, NotFound
from dockyard.oci import mediatypes as mt
from dockyard.oci._json import expect, loads_object, sorted_map, str_map
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.manifest import check_schema_version, encode_document
from dockyard.oci.platform import Platform, host_platform

_KNOWN = {"schemaVersion", "mediaType", "artifactType", "manifests", "subject", "annotations"}

# BuildKit's attestation manifests sit in indexes with platform unknown/unknown and this annotation.
REFERENCE_TYPE = "vnd.docker.reference.type"
ATTESTATION_MANIFEST = "attestation-manifest"
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_IMAGE_NAME = "io.containerd.image.name"


def is_attestation(desc: Descriptor) -> bool:
    return desc.annotation(REFERENCE_TYPE) == ATTESTATION_MANIFEST


@dataclass(frozen=True)
class Index:
    """An image index. Parsed indexes keep their exact bytes in `.raw` (digest source)."""

    manifests: tuple[Descriptor, ...] = ()
    media_type: str = mt.OCI_INDEX
    schema_version: int = 2
    annotations: dict[str, str] | None = None
    subject: Descriptor | None = None
    artifact_type: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    raw: bytes | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.manifests, tuple):
            object.__setattr__(self, "manifests", tuple(self.manifests))

    @property
    def is_docker(self) -> bool:
        return self.media_type == mt.DOCKER_MANIFEST_LIST

    @property
    def effective_media_type(self) -> str:
        return self.media_type or mt.OCI_INDEX

    # -- JSON ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        docker = self.is_docker
        out: dict[str, Any] = {"schemaVersion": self.schema_version}
        if self.media_type:
            out["mediaType"] = self.media_type
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        out["manifests"] = [d.to_dict(docker) for d in self.manifests]
        if self.subject is not None:
            out["subject"] = self.subject.to_dict(docker)
        if self.annotations:
            out["annotations"] = sorted_map(self.annotations)
        out.update(self.extra)
        return out

    def to_json(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return encode_document(self.to_dict(), self.is_docker)

    @cached_property
    def digest(self) -> Digest:
        return Digest.from_bytes(self.to_json())

    def descriptor(self, **kw: Any) -> Descriptor:
        return Descriptor.of(self.effective_media_type, self.to_json(), **kw)

    @classmethod
    def from_json(cls, raw: bytes, media_type: str | None = None) -> Index:
        index = cls.from_dict(loads_object(raw, "image index"), media_type)
        object.__setattr__(index, "raw", bytes(raw))
        return index

    @classmethod
    def from_dict(cls, obj: dict[str, Any], media_type: str | None = None) -> Index:
        what = "image index"
        version = check_schema_version(obj, what)
        body_type = expect(obj, "mediaType", str, what) or ""
        if mt.is_manifest(body_type) or ("config" in obj and "manifests" not in obj):
            raise InvalidArgument(f"{what}: this document is an image manifest, not an index")
        manifests = expect(obj, "manifests", list, what)
        if manifests is None:
            raise InvalidArgument(f"{what}: missing manifests list")
        subject = obj.get("subject")
        return cls(
            manifests=tuple(
                Descriptor.from_dict(d, f"{what} manifest {i}") for i, d in enumerate(manifests)
            ),
            media_type=body_type or (media_type or ""),
            schema_version=version,
            annotations=str_map(obj, "annotations", what),
            subject=Descriptor.from_dict(subject, f"{what} subject") if subject is not None else None,
            artifact_type=expect(obj, "artifactType", str, what) or "",
            extra={k: v for k, v in obj.items() if k not in _KNOWN},
        )

    # -- queries and edits ---------------------------------------------------------------

    def images(self) -> list[Descriptor]:
        """Entries that are runnable images: manifests/indexes, not attestations."""
        return [
            d for d in self.manifests
            if (mt.is_manifest(d.media_type) or mt.is_index(d.media_type)) and not is_attestation(d)
        ]

    def select(self, platform: Platform | str | None = None) -> Descriptor:
        """The manifest for `platform` (default: this host), as docker pull picks it."""
        if platform is None:
            want = host_platform()
        elif isinstance(platform, str):
            want = Platform.parse(platform)
        else:
            want = platform
        candidates = [d for d in self.images() if mt.is_manifest(d.media_type)]
        for desc in candidates:
            if desc.platform is not None and desc.platform.matches(want):
                return desc
        # arm/v7 hosts also run v6 and v5 images, newest first (containerd's matcher).
        norm = want.normalized()
        if norm.architecture == "arm" and norm.variant in ("v7", "v8", "v6"):
            lower = {"v8": ["v7", "v6", "v5"], "v7": ["v6", "v5"], "v6": ["v5"]}[norm.variant]
            for variant in lower:
                alt = Platform(norm.architecture, norm.os, variant=variant)
                for desc in candidates:
                    if desc.platform is not None and desc.platform.matches(alt):
                        return desc
        if len(candidates) == 1 and candidates[0].platform is None:
            return candidates[0]
        available = ", ".join(str(d.platform) for d in candidates if d.platform) or "none"
        raise NotFound(
            f"no matching manifest for {want.normalized()} in the manifest list entries "
            f"(available: {available})",
            hint="pick one of the available platforms with --platform",
        )

    def replace(self, **changes: Any) -> Index:
        return replace(self, **changes)

    def with_manifest(self, desc: Descriptor) -> Index:
        return replace(self, manifests=(*self.manifests, desc))


def parse_document(raw: bytes, media_type: str | None = None) -> Any:
    """A Manifest or an Index, decided by the body's mediaType, then `media_type`, then shape."""
    from dockyard.oci.manifest import Manifest

    obj = loads_object(raw, "manifest")
    body_type = obj.get("mediaType") if isinstance(obj.get("mediaType"), str) else None
    kind = body_type or media_type or ""
    if mt.is_index(kind) or (not mt.is_manifest(kind) and "manifests" in obj):
        index = Index.from_dict(obj, media_type)
        object.__setattr__(index, "raw", bytes(raw))
        return index
    manifest = Manifest.from_dict(obj, media_type)
    object.__setattr__(manifest, "raw", bytes(raw))
    return manifest
