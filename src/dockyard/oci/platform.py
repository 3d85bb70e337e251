"""Platforms (os/architecture/variant) with Docker's and containerd's normalisation rules."""

from __future__ import annotations

import os
import sys
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.oci._json import expect, str_list
from dockyard.records import FrozenRecord


def normalize_os(os_name: str) -> str:
    os_name = os_name.lower()
    return "darwin" if os_name == "macos" else os_name


def normalize_arch(arch: str, variant: str = "") -> tuple[str, str]:
    """containerd's normalisation: x86_64 -> amd64, aarch64 -> arm64 (v8 = default), armhf -> arm/v7."""
    arch, variant = arch.lower(), variant.lower()
    if arch == "i386":
        return "386", ""
    if arch in ("x86_64", "x86-64", "amd64"):
        return "amd64", "" if variant == "v1" else variant
    if arch in ("aarch64", "arm64"):
        if variant in ("8", "v8", "v8.0"):
            variant = ""
        elif variant in ("9", "9.0", "v9.0"):
            variant = "v9"
        elif variant and variant[0].isdigit():
            variant = "v" + variant
        return "arm64", variant
    if arch == "armhf":
        return "arm", "v7"
    if arch == "armel":
        return "arm", "v6"
    if arch == "arm":
        if variant in ("", "7"):
            return "arm", "v7"
        if variant in ("5", "6", "8"):
            return "arm", "v" + variant
        return "arm", variant
    return arch, variant


class Platform(FrozenRecord):
    """The `platform` object of OCI descriptors and image configs."""

    _uncompared = ("extra",)

    def __init__(
        self, architecture: str, os: str, os_version: str = "", os_features: tuple[str, ...] = (),
        variant: str = "",
        features: tuple[str, ...] = (),  # Docker manifest lists only (reserved)
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.architecture = architecture
        self.os = os
        self.os_version = os_version
        self.os_features = os_features
        self.variant = variant
        self.features = features
        self.extra: dict[str, Any] = {} if extra is None else extra

    @classmethod
    def parse(cls, spec: str) -> Platform:
        """`os[/arch[/variant]]` or `arch` as `--platform` takes it (normalised)."""
        parts = spec.strip().split("/")
        if not spec.strip() or len(parts) > 3 or any(not p for p in parts):
            raise InvalidArgument(
                f"invalid platform {spec!r}",
                hint="use os/arch[/variant], for example linux/amd64 or linux/arm/v7",
            )
        if len(parts) == 1:
            host = host_platform()
            known = {"linux", "windows", "darwin", "freebsd", "macos"}
            if parts[0].lower() in known:
                return Platform(host.architecture, normalize_os(parts[0]), variant=host.variant)
            arch, variant = normalize_arch(parts[0])
            return Platform(arch, host.os, variant=variant)
        arch, variant = normalize_arch(parts[1], parts[2] if len(parts) == 3 else "")
        return Platform(arch, normalize_os(parts[0]), variant=variant)

    def normalized(self) -> Platform:
        arch, variant = normalize_arch(self.architecture, self.variant)
        return Platform(
            arch, normalize_os(self.os), self.os_version, self.os_features, variant,
            self.features, self.extra,
        )

    def matches(self, other: Platform) -> bool:
        """Same os, architecture and variant after normalisation (arm64 == arm64/v8)."""
        a, b = self.normalized(), other.normalized()
        return (a.os, a.architecture, a.variant) == (b.os, b.architecture, b.variant)

    def __str__(self) -> str:
        parts = [self.os or "unknown", self.architecture or "unknown"]
        if self.variant:
            parts.append(self.variant)
        return "/".join(parts)

    def to_dict(self, docker: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            out["os.version"] = self.os_version
        if self.os_features:
            out["os.features"] = list(self.os_features)
        if self.variant:
            out["variant"] = self.variant
        if docker and self.features:
            out["features"] = list(self.features)
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, obj: Any, what: str = "platform") -> Platform:
        if not isinstance(obj, dict):
            raise InvalidArgument(f"{what} must be a JSON object")
        known = {"architecture", "os", "os.version", "os.features", "variant", "features"}
        return cls(
            architecture=expect(obj, "architecture", str, what) or "",
            os=expect(obj, "os", str, what) or "",
            os_version=expect(obj, "os.version", str, what) or "",
            os_features=str_list(obj, "os.features", what) or (),
            variant=expect(obj, "variant", str, what) or "",
            features=str_list(obj, "features", what) or (),
            extra={k: v for k, v in obj.items() if k not in known},
        )


def host_platform() -> Platform:
    """The platform of this machine, normalised (linux/amd64, linux/arm64, linux/arm/v7...)."""
    os_name = normalize_os(sys.platform if sys.platform != "linux" else "linux")
    machine = os.uname().machine or "amd64"  # what platform.machine() reads, without its import
    variant = ""
    if machine.lower().startswith("armv"):
        variant = "v" + "".join(ch for ch in machine[4:] if ch.isdigit())[:1]
        machine = "arm"
    arch, variant = normalize_arch(machine, variant)
    return Platform(arch, os_name, variant=variant)
