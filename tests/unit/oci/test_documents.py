"""Manifests, indexes and image configs: Docker-exact encoding, lossless edits, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument, NotFound
from dockyard.oci import (
    ContainerConfig,
    Descriptor,
    Digest,
    HealthConfig,
    History,
    ImageConfig,
    Index,
    Manifest,
    Platform,
    format_time,
    mediatypes,
    parse_document,
    parse_time,
)

H = "sha256:" + "a" * 64
H2 = "sha256:" + "b" * 64


def _compat_cases(conformance_dir: Path) -> list[dict]:
    cases = json.loads((conformance_dir / "oci-image-spec-cases.json").read_text())["cases"]
    return [c for c in cases if c.get("document_docker_original")]


def test_docker_documents_re_encode_byte_exact(conformance_dir: Path):
    """A Docker-written manifest list, manifest and config, rebuilt from the model alone,
    come out byte for byte as Docker wrote them (so digests match)."""
    classes = {
        mediatypes.OCI_MANIFEST: Manifest, mediatypes.OCI_INDEX: Index,
        mediatypes.OCI_CONFIG: ImageConfig,
    }
    seen = set()
    for case in _compat_cases(conformance_dir):
        raw = case["document_docker_original"].encode()
        doc = classes[case["media_type"]].from_json(raw)
        rebuilt = doc.replace()  # drops .raw
        assert rebuilt.raw is None
        assert rebuilt.to_json() == raw
        assert rebuilt.digest == case["sha256_of_original"]
        seen.add(case["media_type"])
    assert len(seen) == 3


def test_new_oci_manifest_is_compact_go_json():
    config = Descriptor(mediatypes.OCI_CONFIG, Digest(H), 10)
    layer = Descriptor(mediatypes.OCI_LAYER, Digest(H2), 20, annotations={"z": "1", "a": "<&>"})
    manifest = Manifest(config=config, layers=[layer])
    assert manifest.to_json() == (
        b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
        b'"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"' + H.encode()
        + b'","size":10},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar",'
        b'"digest":"' + H2.encode() + b'","size":20,"annotations":{"a":"\\u003c\\u0026\\u003e",'
        b'"z":"1"}}]}'
    )
    again = Manifest.from_json(manifest.to_json())
    assert again == manifest and again.layers[0].annotations == {"z": "1", "a": "<&>"}
    assert manifest.descriptor().digest == manifest.digest
    assert manifest.descriptor().size == len(manifest.to_json())


def test_docker_manifest_orders_size_before_digest():
    manifest = Manifest(
        config=Descriptor(mediatypes.DOCKER_CONFIG, Digest(H), 5),
        media_type=mediatypes.DOCKER_MANIFEST,
    )
    text = manifest.to_json().decode()
    assert text.startswith('{\n   "schemaVersion": 2,\n   "mediaType": ')
    assert text.index('"size": 5') < text.index('"digest"')


def test_parsed_bytes_are_kept_exactly():
    raw = b'{ "schemaVersion" : 2, "config": {"mediaType":"x/y","digest":"%s","size":1},"layers":[]}\n'
    raw = raw.replace(b"%s", H.encode())
    manifest = Manifest.from_json(raw)
    assert manifest.to_json() == raw
    assert manifest.digest == Digest.from_bytes(raw)
    assert manifest.media_type == "" and manifest.effective_media_type == mediatypes.OCI_MANIFEST
    edited = manifest.replace(annotations={"k": "v"})
    assert edited.to_json() != raw and edited.raw is None


@pytest.mark.parametrize(
    "raw,reason",
    [
        (b"not json", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (b'{"schemaVersion":1,"fsLayers":[]}', "schema 1 is not supported"),
        (b'{"schemaVersion":3,"config":{}}', "unsupported schemaVersion"),
        (b'{"schemaVersion":2,"layers":[]}', "missing config"),
        (b'{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"sha256:abc","size":1}}',
         "invalid checksum digest length"),
        (b'{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"%s","size":"1"}}' % H.encode(),
         "must be an integer"),
        (b'{"schemaVersion":2,"manifests":[]}', "is an image index"),
    ],
)
def test_bad_manifests_raise_invalid_argument(raw: bytes, reason: str):
    with pytest.raises(InvalidArgument) as info:
        Manifest.from_json(raw)
    assert reason in str(info.value)


def test_unknown_fields_survive_edits():
    raw = json.dumps({
        "schemaVersion": 2, "mediaType": mediatypes.OCI_MANIFEST, "x-extra": {"keep": [1, 2]},
        "config": {"mediaType": mediatypes.OCI_CONFIG, "digest": H, "size": 3, "x-d": True},
        "layers": [],
    }).encode()
    edited = Manifest.from_json(raw).replace(annotations={"a": "b"})
    out = json.loads(edited.to_json())
    assert out["x-extra"] == {"keep": [1, 2]} and out["config"]["x-d"] is True
    assert out["annotations"] == {"a": "b"}


def _index() -> Index:
    def entry(arch: str, variant: str = "", digest: str = H) -> Descriptor:
        return Descriptor(mediatypes.OCI_MANIFEST, Digest(digest), 1,
                          platform=Platform(arch, "linux", variant=variant))
    attestation = Descriptor(
        mediatypes.OCI_MANIFEST, Digest(H2), 1, platform=Platform("unknown", "unknown"),
        annotations={"vnd.docker.reference.type": "attestation-manifest"},
    )
    return Index(manifests=[
        entry("amd64"), entry("arm64", "v8", H2), entry("arm", "v6", "sha256:" + "c" * 64),
        attestation,
    ])


def test_index_selects_platform_like_docker():
    index = _index()
    assert index.select("linux/amd64").digest == H
    assert index.select("linux/arm64").digest == H2  # arm64 == arm64/v8
    assert index.select("linux/aarch64").digest == H2
    assert index.select("linux/arm/v7").digest == "sha256:" + "c" * 64  # v7 runs v6
    assert len(index.images()) == 3  # the attestation is not an image
    with pytest.raises(NotFound, match="no matching manifest for linux/s390x"):
        index.select("linux/s390x")


def test_index_round_trip_and_parse_document():
    index = _index()
    parsed = parse_document(index.to_json())
    assert isinstance(parsed, Index) and parsed == index and parsed.to_json() == index.to_json()
    docker_list = index.replace(media_type=mediatypes.DOCKER_MANIFEST_LIST)
    assert isinstance(parse_document(docker_list.to_json()), Index)
    manifest = Manifest(config=Descriptor(mediatypes.OCI_CONFIG, Digest(H), 1))
    assert isinstance(parse_document(manifest.to_json()), Manifest)
    with pytest.raises(InvalidArgument, match="is an image manifest"):
        Index.from_json(manifest.to_json())


# -- image config ------------------------------------------------------------------------


def test_new_config_serializes_like_buildkit():
    config = ImageConfig(
        architecture="amd64",
        created="2024-05-01T10:00:00.123456789Z",
        config=ContainerConfig(
            env=["PATH=/usr/bin"], entrypoint=["/init"], cmd=["sh", "-c", "a && b"],
            working_dir="/app", labels={"b": "2", "a": "1"}, exposed_ports=["80/tcp"],
            healthcheck=HealthConfig(test=["CMD", "true"], interval=30_000_000_000, retries=3),
            on_build=[], shell=["/bin/bash", "-c"],
        ),
        history=[History(created="2024-05-01T10:00:00Z", created_by="RUN x", empty_layer=True)],
    )
    assert config.to_json() == (
        b'{"architecture":"amd64","config":{"ExposedPorts":{"80/tcp":{}},"Env":["PATH=/usr/bin"],'
        b'"Entrypoint":["/init"],"Cmd":["sh","-c","a \\u0026\\u0026 b"],"WorkingDir":"/app",'
        b'"Labels":{"a":"1","b":"2"},"Healthcheck":{"Test":["CMD","true"],"Interval":30000000000,'
        b'"Retries":3},"Shell":["/bin/bash","-c"]},"created":"2024-05-01T10:00:00.123456789Z",'
        b'"history":[{"created":"2024-05-01T10:00:00Z","created_by":"RUN x","empty_layer":true}],'
        b'"os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    )
    again = ImageConfig.from_json(config.to_json())
    assert again.replace().to_json() == config.to_json()
    assert again.cfg.on_build is None  # OCI style omits empty lists, so [] reads back as absent


def test_moby_style_config_writes_null_and_zero_values():
    raw = (b'{"architecture":"amd64","config":{"Hostname":"","Domainname":"","User":"",'
           b'"AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,'
           b'"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":["sh"],"Image":"",'
           b'"Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{}},'
           b'"os":"linux","rootfs":{"type":"layers","diff_ids":[]}}')
    config = ImageConfig.from_json(raw)
    assert config.cfg.style == "moby" and config.cfg.env is None and config.cfg.labels == {}
    assert config.replace().to_json() == raw
    changed = config.with_config(env=("A=1",))
    assert b'"Env":["A=1"],"Cmd":["sh"]' in changed.to_json()
    oci = config.with_config().replace(config=config.cfg.to_oci_style())
    assert json.loads(oci.to_json())["config"] == {"Cmd": ["sh"]}


def test_cmd_null_vs_empty_and_string_form():
    absent = ContainerConfig(style="moby")
    empty = ContainerConfig(style="moby", cmd=())
    assert absent.to_dict()["Cmd"] is None and empty.to_dict()["Cmd"] == []
    assert "Cmd" not in ContainerConfig(cmd=()).to_dict()  # OCI style: omitempty
    parsed = ContainerConfig.from_dict({"Cmd": "echo hi", "Entrypoint": None})
    assert parsed.cmd == ("echo hi",) and parsed.entrypoint is None


def test_unknown_config_fields_are_kept():
    raw = json.dumps({
        "architecture": "arm64", "os": "linux", "variant": "v8",
        "moby.buildkit.buildinfo.v1": "e30=", "container": "abc",
        "config": {"Env": ["A=1"], "Memory": 0, "X-Custom": {"a": 1}},
        "rootfs": {"type": "layers", "diff_ids": [H]},
        "history": [{"created_by": "ADD x", "x-h": 1}],
    }).encode()
    edited = ImageConfig.from_json(raw).with_config(cmd=["run"])
    out = json.loads(edited.to_json())
    assert out["moby.buildkit.buildinfo.v1"] == "e30=" and out["container"] == "abc"
    assert out["config"]["X-Custom"] == {"a": 1} and out["config"]["Memory"] == 0
    assert out["config"]["Cmd"] == ["run"] and out["history"][0]["x-h"] == 1
    assert list(out) == sorted(out)  # top level in byte order, as moby and BuildKit write it


@pytest.mark.parametrize(
    "doc,reason",
    [
        ({"os": 1}, "'os' has the wrong type"),
        ({"config": {"User": 1}}, "'User' has the wrong type"),
        ({"config": {"Env": [1]}}, "'Env' must be a list of strings"),
        ({"config": {"Volumes": ["/a"]}}, "'Volumes' has the wrong type"),
        ({"history": "x"}, "'history' has the wrong type"),
        ({"rootfs": {"type": "layers", "diff_ids": ["sha256:zz"]}}, "invalid digest"),
        ({"config": {"Healthcheck": {"Interval": "30s"}}}, "'Interval' must be an integer"),
    ],
)
def test_bad_configs_say_which_field(doc: dict, reason: str):
    with pytest.raises(InvalidArgument) as info:
        ImageConfig.from_json(json.dumps(doc).encode())
    assert reason in str(info.value)


def test_layer_and_history_helpers():
    config = ImageConfig(architecture="amd64")
    config = config.with_layer(H, History(created_by="ADD rootfs"))
    config = config.with_history(History(created_by="CMD sh", empty_layer=True))
    config = config.with_layer(H2, History(created_by="RUN make"))
    assert config.diff_ids == (H, H2)
    pairs = [(h.created_by if h else None, d) for h, d in config.layer_history()]
    assert pairs == [("ADD rootfs", H), ("CMD sh", None), ("RUN make", H2)]
    env = ContainerConfig(env=["A=1", "B=2"]).with_env(B="3", C="4")
    assert env.env == ("A=1", "B=3", "C=4") and env.get_env("C") == "4"


def test_time_format_matches_go_rfc3339nano():
    when = parse_time("2016-10-10T23:04:00.821781828Z")
    assert format_time(when) == "2016-10-10T23:04:00.821781Z"
    assert format_time(parse_time("2024-01-01T00:00:00.500+02:00")) == "2024-01-01T00:00:00.5+02:00"
    assert format_time(parse_time("2024-01-01T00:00:00Z")) == "2024-01-01T00:00:00Z"
    with pytest.raises(InvalidArgument):
        parse_time("yesterday")
