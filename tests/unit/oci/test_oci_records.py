"""The spec records behave as the frozen dataclasses they replaced: equality without `extra`,
hashing, immutability, fresh defaults, `replace()` dropping the exact bytes, normalised fields."""

from __future__ import annotations

import pytest

from dockyard.oci import mediatypes as mt
from dockyard.oci.config import History, ImageConfig, RootFS
from dockyard.oci.container_config import ContainerConfig, HealthConfig
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.index import Index
from dockyard.oci.manifest import Manifest
from dockyard.oci.platform import Platform
from dockyard.reference import Reference, parse_reference

H1 = "sha256:" + "1" * 64
H2 = "sha256:" + "2" * 64


def test_equality_ignores_extra_and_hash_follows_it() -> None:
    one = Descriptor(mt.OCI_LAYER, H1, 3, extra={"x-vendor": 1})
    two = Descriptor(media_type=mt.OCI_LAYER, digest=Digest(H1), size=3)
    assert one == two and hash(one) == hash(two) and len({one, two}) == 1
    assert one != one.replace(size=4) and one != "not a descriptor"
    assert isinstance(two.digest, Digest) and isinstance(one.digest, Digest)
    assert Platform("amd64", "linux", extra={"a": 1}) == Platform("amd64", "linux")
    assert History(created_by="RUN x", extra={"k": 1}) == History(None, "RUN x")
    assert RootFS("layers", (Digest(H1),), {"k": 1}) == RootFS(diff_ids=(Digest(H1),))
    assert HealthConfig(("NONE",), extra={"k": 1}) == HealthConfig(test=("NONE",))
    assert parse_reference("ubuntu") == Reference("docker.io", "library/ubuntu", "latest")
    assert {parse_reference("ubuntu"): 1}[Reference("docker.io", "library/ubuntu", "latest")] == 1


def test_records_are_immutable() -> None:
    desc = Descriptor(mt.OCI_LAYER, H1, 3)
    with pytest.raises(AttributeError):
        desc.size = 4  # type: ignore[misc]
    with pytest.raises(AttributeError):
        desc.other = 1  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        parse_reference("ubuntu").tag = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        ImageConfig().os = "windows"  # type: ignore[misc]


def test_defaults_are_fresh_and_none_config_stays_none() -> None:
    one, two = Descriptor(mt.OCI_LAYER, H1, 3), Descriptor(mt.OCI_LAYER, H1, 3)
    one.extra["k"] = 1
    assert two.extra == {} and ImageConfig().extra == {} and Platform("a", "b").extra == {}
    first, second = ImageConfig(), ImageConfig()
    assert first.config == ContainerConfig() and first.config is not second.config
    assert first.rootfs == RootFS() and first.rootfs.type == "layers"
    assert ImageConfig(config=None).config is None
    assert b'"config"' not in ImageConfig(config=None).to_json()


def test_negative_size_is_refused() -> None:
    with pytest.raises(Exception, match="size must not be negative"):
        Descriptor(mt.OCI_LAYER, H1, -1)


def test_sequences_are_normalised() -> None:
    cfg = ContainerConfig(env=["A=1"], cmd=["sh"], exposed_ports=["80/tcp"], volumes=["/data"])
    assert cfg.env == ("A=1",) and cfg.cmd == ("sh",)
    assert cfg.exposed_ports == {"80/tcp": {}} and cfg.volumes == {"/data": {}}
    with pytest.raises(TypeError):
        ContainerConfig(cmd="sh")  # type: ignore[arg-type]
    config_desc = Descriptor(mt.OCI_CONFIG, H1, 2)
    manifest = Manifest(config_desc, [Descriptor(mt.OCI_LAYER, H2, 5)])
    assert isinstance(manifest.layers, tuple)
    assert isinstance(Index([manifest.descriptor()]).manifests, tuple)
    assert isinstance(ImageConfig(history=[History()]).history, tuple)


def test_replace_drops_raw_and_keeps_the_rest() -> None:
    raw = b'{"schemaVersion":2,"config":{"mediaType":"%s","digest":"%s","size":2},"layers":[]}' % (
        mt.OCI_CONFIG.encode(), H1.encode()
    )
    parsed = Manifest.from_json(raw)
    assert parsed.raw == raw and parsed.to_json() == raw
    edited = parsed.replace(annotations={"a": "b"})
    assert edited.raw is None and edited.config == parsed.config and edited.annotations == {"a": "b"}
    assert parsed.replace() == parsed  # raw is not compared
    with pytest.raises(TypeError):
        parsed.replace(no_such_field=1)
    cfg = ImageConfig.from_json(ImageConfig(architecture="amd64").to_json())
    assert cfg.raw is not None and cfg.replace(author="me").raw is None
    assert cfg.with_config(env=["A=1"]).cfg.env == ("A=1",)


def test_repr_names_the_fields() -> None:
    text = repr(Descriptor(mt.OCI_LAYER, H1, 3))
    assert text.startswith("Descriptor(media_type=") and "size=3" in text
    assert "raw=" not in repr(Manifest(Descriptor(mt.OCI_CONFIG, H1, 2)))
