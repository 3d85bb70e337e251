"""Digests, media types (against the spec's table) and platform normalisation."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.errors import InvalidArgument
from dockyard.oci import (
    Descriptor,
    Digest,
    Hasher,
    HashingReader,
    Platform,
    host_platform,
    is_index,
    is_layer,
    is_manifest,
    layer_compression,
    layer_media_type,
    mediatypes,
    normalize_arch,
)
from dockyard.oci._json import go_dumps

EMPTY = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_digest_of_bytes_and_parts():
    d = Digest.from_bytes(b"")
    assert d == EMPTY and str(d) == EMPTY and d.algorithm == "sha256"
    assert d.hex == EMPTY[7:] and d.short() == EMPTY[7:19]
    assert Digest.from_bytes(b"x", "sha512") == "sha512:" + hashlib.sha512(b"x").hexdigest()
    assert {d: 1}[EMPTY] == 1  # a Digest is its string
    assert d.verify(b"") and not d.verify(b"x")


@pytest.mark.parametrize(
    "text,reason",
    [
        ("", "invalid checksum digest format"),
        ("sha256", "invalid checksum digest format"),
        ("sha256:", "invalid checksum digest format"),
        (":abc", "invalid checksum digest format"),
        ("sha256:abc", "invalid checksum digest length"),
        ("sha256:" + "A" * 64, "lowercase"),
        ("sha256:" + "g" * 64, "lowercase"),
        ("md5:" + "a" * 32, "unsupported digest algorithm"),
        ("Sha256:" + "a" * 64, "invalid checksum digest format"),
    ],
)
def test_bad_digests_say_why(text: str, reason: str):
    with pytest.raises(InvalidArgument) as info:
        Digest(text)
    assert reason in str(info.value) and info.value.hint


def test_unknown_algorithms_only_where_the_spec_allows_them():
    odd = "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564"
    with pytest.raises(InvalidArgument):
        Digest(odd)
    d = Digest(odd, allow_unknown=True)
    assert not d.supported and d.algorithm == "sha256+b64u"
    desc = Descriptor.from_dict({"mediaType": "a/b", "digest": odd, "size": 1})
    assert desc.digest == odd
    with pytest.raises(InvalidArgument):
        Digest("sha256+foo+-b:abc", allow_unknown=True)


def test_streaming_hashers_agree_with_one_shot():
    data = bytes(range(256)) * 5000
    hasher = Hasher()
    for i in range(0, len(data), 4096):
        hasher.update(data[i : i + 4096])
    reader = HashingReader(io.BytesIO(data))
    while reader.read(7000):
        pass
    expected = Digest.from_bytes(data)
    assert hasher.digest() == reader.digest() == expected == Digest.from_stream(io.BytesIO(data))
    assert hasher.size == reader.size == len(data)
    with pytest.raises(InvalidArgument, match="unsupported digest algorithm"):
        Hasher("md5")


def test_descriptor_verify_and_json():
    desc = Descriptor.of(mediatypes.OCI_EMPTY, mediatypes.EMPTY_JSON, data=b"{}")
    assert desc.digest == mediatypes.EMPTY_JSON_DIGEST and desc.size == 2
    desc.verify(b"{}")
    with pytest.raises(InvalidArgument, match="size"):
        desc.verify(b"{} ")
    with pytest.raises(InvalidArgument, match="does not match digest"):
        desc.verify(b"[]")
    assert desc.to_dict()["data"] == "e30="
    assert Descriptor.from_dict(desc.to_dict()) == desc
    with pytest.raises(InvalidArgument, match="size must not be negative"):
        Descriptor("a/b", Digest(EMPTY), -1)


def test_media_types_match_the_spec_table(conformance_dir: Path):
    table = json.loads((conformance_dir / "oci-media-types.json").read_text())
    known = {v for k, v in vars(mediatypes).items() if k.isupper() and isinstance(v, str)}
    for entry in table["media_types"]:
        mt = entry["media_type"]
        assert mt in known, mt
        assert is_layer(mt) == ("layer" in mt)
        assert is_manifest(mt) == mt.endswith("image.manifest.v1+json")
        assert is_index(mt) == mt.endswith("image.index.v1+json")
        if is_layer(mt):
            expected = "gzip" if mt.endswith("gzip") else "zstd" if mt.endswith("zstd") else ""
            assert layer_compression(mt) == expected
    for pair in table["docker_compatible"]:
        assert mediatypes.to_oci(pair["docker"]) == pair["oci"]
        assert mediatypes.to_docker(pair["oci"]) == pair["docker"]


def test_docker_media_types():
    assert is_manifest(mediatypes.DOCKER_MANIFEST) and is_index(mediatypes.DOCKER_MANIFEST_LIST)
    assert is_manifest(mediatypes.OCI_MANIFEST + "; charset=utf-8")
    assert layer_compression(mediatypes.DOCKER_LAYER_GZIP) == "gzip"
    assert layer_compression(mediatypes.DOCKER_FOREIGN_LAYER) == "gzip"
    assert mediatypes.is_nondistributable(mediatypes.DOCKER_FOREIGN_LAYER)
    assert layer_compression(mediatypes.OCI_CONFIG) is None
    assert layer_media_type("gzip", docker=True) == mediatypes.DOCKER_LAYER_GZIP
    assert layer_media_type("zstd") == mediatypes.OCI_LAYER_ZSTD


@pytest.mark.parametrize(
    "arch,variant,expected",
    [
        ("x86_64", "", ("amd64", "")), ("x86-64", "", ("amd64", "")), ("amd64", "v1", ("amd64", "")),
        ("amd64", "v3", ("amd64", "v3")), ("i386", "", ("386", "")),
        ("aarch64", "", ("arm64", "")), ("arm64", "v8", ("arm64", "")), ("arm64", "8", ("arm64", "")),
        ("ARM64", "V8", ("arm64", "")), ("arm64", "9", ("arm64", "v9")),
        ("armhf", "", ("arm", "v7")), ("armel", "", ("arm", "v6")), ("arm", "", ("arm", "v7")),
        ("arm", "6", ("arm", "v6")), ("arm", "v5", ("arm", "v5")), ("s390x", "", ("s390x", "")),
    ],
)
def test_arch_normalisation(arch: str, variant: str, expected: tuple[str, str]):
    assert normalize_arch(arch, variant) == expected


def test_platform_parse_and_match():
    p = Platform.parse("linux/arm64/v8")
    assert str(p) == "linux/arm64" and p.matches(Platform("arm64", "linux", variant="v8"))
    assert str(Platform.parse("linux/arm")) == "linux/arm/v7"
    assert not Platform.parse("linux/amd64").matches(Platform.parse("linux/arm64"))
    assert Platform.parse("arm64").os == host_platform().os
    for bad in ("", "linux/", "a/b/c/d", "/amd64"):
        with pytest.raises(InvalidArgument, match="invalid platform"):
            Platform.parse(bad)
    raw = {"architecture": "amd64", "os": "windows", "os.version": "10.0", "os.features": ["x"]}
    assert Platform.from_dict(raw).to_dict() == raw


def test_host_platform_is_normalised():
    host = host_platform()
    assert host.os == "linux"
    assert (host.architecture, host.variant) == normalize_arch(host.architecture, host.variant)


# -- Go-compatible JSON text ---------------------------------------------------------------


@given(st.dictionaries(st.text(), st.lists(st.text(), max_size=3), max_size=4))
def test_go_json_escapes_html_and_reads_back(value: dict[str, list[str]]):
    out = go_dumps(value)
    assert json.loads(out) == value
    assert not any(ch in out for ch in (b"<", b">", b"&")) and b"\xe2\x80\xa8" not in out
