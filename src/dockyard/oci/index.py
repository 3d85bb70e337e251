"""Image indexes: OCI image index v1 and Docker manifest list v2 (multi-platform images)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dockyard.errors import InvalidArgument, NotFound
from dockyard.oci import mediatypes as mt
from dockyard.oci._json import expect, keep_raw, loads_object
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.document import Document, parse_common, parse_head
from dockyard.oci.manifest import Manifest
from dockyard.oci.platform import Platform, host_platform

_BODY_KEYS = frozenset({"manifests"})

# BuildKit's attestation manifests sit in indexes with platform unknown/unknown and this annotation.
REFERENCE_TYPE = "vnd.docker.reference.type"
ATTESTATION_MANIFEST = "attestation-manifest"
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_IMAGE_NAME = "io.containerd.image.name"


def is_attestation(desc: Descriptor) -> bool:
    return desc.annotation(REFERENCE_TYPE) == ATTESTATION_MANIFEST


class Index(Document):
    """An image index. Parsed indexes keep their exact bytes in `.raw` (digest source)."""

    WHAT = "image index"
    OCI_TYPE = mt.OCI_INDEX
    DOCKER_TYPE = mt.DOCKER_MANIFEST_LIST

    def __init__(
        self, manifests: Iterable[Descriptor] = (), media_type: str = mt.OCI_INDEX,
        schema_version: int = 2, annotations: dict[str, str] | None = None,
        subject: Descriptor | None = None, artifact_type: str = "",
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.manifests = tuple(manifests)
        self._set_common(media_type, schema_version, annotations, subject, artifact_type, extra)

    # -- JSON ----------------------------------------------------------------------------

    def body_dict(self, docker: bool) -> dict[str, Any]:
        return {"manifests": [d.to_dict(docker) for d in self.manifests]}

    @classmethod
    def from_dict(cls, obj: dict[str, Any], media_type: str | None = None) -> Index:
        what = cls.WHAT
        head = parse_head(obj, what)
        if mt.is_manifest(head[1]) or ("config" in obj and "manifests" not in obj):
            raise InvalidArgument(f"{what}: this document is an image manifest, not an index")
        manifests = expect(obj, "manifests", list, what)
        if manifests is None:
            raise InvalidArgument(f"{what}: missing manifests list")
        return cls(
            manifests=tuple(
                Descriptor.from_dict(d, f"{what} manifest {i}") for i, d in enumerate(manifests)
            ),
            **parse_common(obj, what, head, media_type, _BODY_KEYS),
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

    def with_manifest(self, desc: Descriptor) -> Index:
        return self.replace(manifests=(*self.manifests, desc))


def parse_document(raw: bytes, media_type: str | None = None) -> Manifest | Index:
    """A Manifest or an Index, decided by the body's mediaType, then `media_type`, then shape."""
    obj = loads_object(raw, "manifest")
    body_type = obj.get("mediaType") if isinstance(obj.get("mediaType"), str) else None
    kind = body_type or media_type or ""
    if mt.is_index(kind) or (not mt.is_manifest(kind) and "manifests" in obj):
        return keep_raw(Index.from_dict(obj, media_type), raw)
    return keep_raw(Manifest.from_dict(obj, media_type), raw)
