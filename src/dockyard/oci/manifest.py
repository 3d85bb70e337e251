"""Image manifests: OCI image manifest v1 and Docker image manifest v2 schema 2."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.oci import mediatypes as mt
from dockyard.oci._json import expect
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.document import Document, parse_common, parse_head

_BODY_KEYS = frozenset({"config", "layers"})


class Manifest(Document):
    """An image manifest. Parsed manifests keep their exact bytes in `.raw` (digest source)."""

    WHAT = "image manifest"
    OCI_TYPE = mt.OCI_MANIFEST
    DOCKER_TYPE = mt.DOCKER_MANIFEST

    def __init__(
        self, config: Descriptor, layers: Iterable[Descriptor] = (),
        media_type: str = mt.OCI_MANIFEST, schema_version: int = 2,
        annotations: dict[str, str] | None = None, subject: Descriptor | None = None,
        artifact_type: str = "", extra: dict[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.layers = tuple(layers)
        self._set_common(media_type, schema_version, annotations, subject, artifact_type, extra)

    # -- JSON ----------------------------------------------------------------------------

    def body_dict(self, docker: bool) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(docker),
            "layers": [layer.to_dict(docker) for layer in self.layers],
        }

    @classmethod
    def from_dict(cls, obj: dict[str, Any], media_type: str | None = None) -> Manifest:
        what = cls.WHAT
        head = parse_head(obj, what)
        if mt.is_index(head[1]) or ("manifests" in obj and "config" not in obj):
            raise InvalidArgument(f"{what}: this document is an image index, not a manifest")
        if "config" not in obj:
            raise InvalidArgument(f"{what}: missing config descriptor")
        layers = expect(obj, "layers", list, what) or []
        return cls(
            config=Descriptor.from_dict(obj["config"], f"{what} config"),
            layers=tuple(
                Descriptor.from_dict(d, f"{what} layer {i}") for i, d in enumerate(layers)
            ),
            **parse_common(obj, what, head, media_type, _BODY_KEYS),
        )

    # -- edits ---------------------------------------------------------------------------

    def to_oci(self) -> Manifest:
        """The same manifest with OCI media types (a new document, new digest)."""
        return self.replace(
            media_type=mt.OCI_MANIFEST,
            config=self.config.replace(media_type=mt.to_oci(self.config.media_type)),
            layers=tuple(d.replace(media_type=mt.to_oci(d.media_type)) for d in self.layers),
        )

    def to_docker(self) -> Manifest:
        """The same manifest with Docker schema2 media types (a new document, new digest)."""
        return self.replace(
            media_type=mt.DOCKER_MANIFEST,
            config=self.config.replace(media_type=mt.to_docker(self.config.media_type)),
            layers=tuple(d.replace(media_type=mt.to_docker(d.media_type)) for d in self.layers),
        )
