"""What image manifests and indexes share: common fields, exact bytes, digest, JSON plumbing."""

from __future__ import annotations

from functools import cached_property
from typing import Any, ClassVar, Self

from dockyard.errors import InvalidArgument
from dockyard.oci import mediatypes as mt
from dockyard.oci._json import (
    expect,
    go_dumps,
    go_indent_dumps,
    int_field,
    keep_raw,
    loads_object,
    sorted_map,
    str_map,
)
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.records import FrozenRecord

DOCKER_INDENT = "   "  # distribution's schema2 manifests are MarshalIndent(.., "", "   ")
COMMON_KEYS = frozenset({"schemaVersion", "mediaType", "artifactType", "subject", "annotations"})


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


def parse_head(obj: dict[str, Any], what: str) -> tuple[int, str]:
    """(schemaVersion, the body's mediaType or ""), checked before the body is parsed."""
    version = check_schema_version(obj, what)
    return version, expect(obj, "mediaType", str, what) or ""


def parse_common(
    obj: dict[str, Any], what: str, head: tuple[int, str], media_type: str | None,
    body_keys: frozenset[str],
) -> dict[str, Any]:
    """The constructor arguments every document has, after its own body was parsed."""
    version, body_type = head
    subject = obj.get("subject")
    return {
        "media_type": body_type or (media_type or ""),
        "schema_version": version,
        "annotations": str_map(obj, "annotations", what),
        "subject": Descriptor.from_dict(subject, f"{what} subject") if subject is not None else None,
        "artifact_type": expect(obj, "artifactType", str, what) or "",
        "extra": {k: v for k, v in obj.items() if k not in COMMON_KEYS and k not in body_keys},
    }


class Document(FrozenRecord):
    """Methods of the frozen Manifest and Index records (whose `__init__` sets the fields below).

    A subclass names itself (`WHAT`), its default and Docker media types, and writes its own
    body keys in `body_dict`; everything around the body is written here, in one order.
    `raw` (the exact parsed bytes) is set only by `keep_raw`: a `replace()` drops it, so edited
    documents are serialized again.
    """

    _uncompared = ("extra",)

    WHAT: ClassVar[str]
    OCI_TYPE: ClassVar[str]
    DOCKER_TYPE: ClassVar[str]

    media_type: str
    schema_version: int
    annotations: dict[str, str] | None
    subject: Descriptor | None
    artifact_type: str
    extra: dict[str, Any]
    raw: bytes | None = None

    def _set_common(
        self, media_type: str, schema_version: int, annotations: dict[str, str] | None,
        subject: Descriptor | None, artifact_type: str, extra: dict[str, Any] | None,
    ) -> None:
        """Set the fields every document has (from a subclass's `__init__`)."""
        self.media_type = media_type
        self.schema_version = schema_version
        self.annotations = annotations
        self.subject = subject
        self.artifact_type = artifact_type
        self.extra = {} if extra is None else extra

    @property
    def is_docker(self) -> bool:
        return self.media_type == self.DOCKER_TYPE

    @property
    def effective_media_type(self) -> str:
        """The media type, defaulting to OCI's when the document leaves it out."""
        return self.media_type or self.OCI_TYPE

    def body_dict(self, docker: bool) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, obj: dict[str, Any], media_type: str | None = None) -> Self:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        docker = self.is_docker
        out: dict[str, Any] = {"schemaVersion": self.schema_version}
        if self.media_type:
            out["mediaType"] = self.media_type
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        out.update(self.body_dict(docker))
        if self.subject is not None:
            out["subject"] = self.subject.to_dict(docker)
        if self.annotations:
            out["annotations"] = sorted_map(self.annotations)
        out.update(self.extra)
        return out

    def to_json(self) -> bytes:
        """The exact parsed bytes, or a deterministic Go-style encoding for new documents."""
        if self.raw is not None:
            return self.raw
        return encode_document(self.to_dict(), self.is_docker)

    @cached_property
    def digest(self) -> Digest:
        return Digest.from_bytes(self.to_json())

    def descriptor(self, **kw: Any) -> Descriptor:
        """A descriptor of this document (for an index or a registry PUT)."""
        return Descriptor.of(self.effective_media_type, self.to_json(), **kw)

    @classmethod
    def from_json(cls, raw: bytes, media_type: str | None = None) -> Self:
        """Parse a document; `media_type` (e.g. a Content-Type) is used when the body has none."""
        return keep_raw(cls.from_dict(loads_object(raw, cls.WHAT), media_type), raw)
