"""Content descriptors: what a manifest or index points at (media type, digest, size, ...)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.oci._json import expect, int_field, sorted_map, str_list, str_map
from dockyard.oci.digest import Digest
from dockyard.oci.platform import Platform
from dockyard.records import FrozenRecord

_KNOWN = {"mediaType", "digest", "size", "urls", "annotations", "data", "platform", "artifactType"}


class Descriptor(FrozenRecord):
    """An OCI content descriptor (also Docker schema2's, whose keys are a subset)."""

    _uncompared = ("extra",)

    def __init__(
        self, media_type: str, digest: Digest | str, size: int, urls: tuple[str, ...] = (),
        annotations: dict[str, str] | None = None, platform: Platform | None = None,
        artifact_type: str = "", data: bytes | None = None, extra: dict[str, Any] | None = None,
    ) -> None:
        self.media_type = media_type
        self.digest = digest if isinstance(digest, Digest) else Digest(digest)
        if size < 0:
            raise InvalidArgument(f"descriptor {self.digest}: size must not be negative")
        self.size = size
        self.urls = urls
        self.annotations = annotations
        self.platform = platform
        self.artifact_type = artifact_type
        self.data = data
        self.extra: dict[str, Any] = {} if extra is None else extra

    @classmethod
    def of(cls, media_type: str, content: bytes, **kw: Any) -> Descriptor:
        """A descriptor for the given bytes: their sha256 and length (`data=` embeds them)."""
        return cls(media_type, Digest.from_bytes(content), len(content), **kw)

    # -- convenience ---------------------------------------------------------------------

    def annotation(self, key: str, default: str | None = None) -> str | None:
        return (self.annotations or {}).get(key, default)

    def with_annotations(self, **changes: str) -> Descriptor:
        merged = dict(self.annotations or {})
        merged.update(changes)
        return self.replace(annotations=merged)

    def verify(self, data: bytes) -> None:
        """InvalidArgument unless `data` has this descriptor's size and digest."""
        if len(data) != self.size:
            raise InvalidArgument(
                f"content {self.digest}: size {len(data)} does not match descriptor size {self.size}"
            )
        if not self.digest.verify(data):
            raise InvalidArgument(f"content does not match digest {self.digest}")

    # -- JSON ----------------------------------------------------------------------------

    def to_dict(self, docker: bool = False) -> dict[str, Any]:
        """Field order as image-spec's Go struct (or distribution's, when `docker`)."""
        out: dict[str, Any] = {"mediaType": self.media_type}
        if docker:
            out["size"] = self.size
            out["digest"] = str(self.digest)
        else:
            out["digest"] = str(self.digest)
            out["size"] = self.size
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = sorted_map(self.annotations)
        if self.data is not None and not docker:
            out["data"] = base64.b64encode(self.data).decode("ascii")
        if self.platform is not None:
            out["platform"] = self.platform.to_dict(docker=docker)
        if self.artifact_type and not docker:
            out["artifactType"] = self.artifact_type
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, obj: Any, what: str = "descriptor") -> Descriptor:
        if not isinstance(obj, dict):
            raise InvalidArgument(f"{what} must be a JSON object")
        media_type = expect(obj, "mediaType", str, what) or ""
        digest = expect(obj, "digest", str, what)
        if not digest:
            raise InvalidArgument(f"{what}: missing digest")
        size = int_field(obj, "size", what)
        if size is None:
            size = 0
        raw_data = expect(obj, "data", str, what)
        data = None
        if raw_data is not None:
            try:
                data = base64.b64decode(raw_data, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise InvalidArgument(f"{what}: data is not valid base64") from exc
        platform = obj.get("platform")
        try:
            dgst = Digest(digest, allow_unknown=True)
        except InvalidArgument as exc:
            raise InvalidArgument(f"{what}: {exc.message}", hint=exc.hint) from exc
        return cls(
            media_type=media_type,
            digest=dgst,
            size=size,
            urls=str_list(obj, "urls", what) or (),
            annotations=str_map(obj, "annotations", what),
            platform=Platform.from_dict(platform, f"{what} platform") if platform is not None else None,
            artifact_type=expect(obj, "artifactType", str, what) or "",
            data=data,
            extra={k: v for k, v in obj.items() if k not in _KNOWN},
        )
