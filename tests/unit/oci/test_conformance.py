"""OCI image-spec conformance: schema + Go-check validation of every recorded case, and lossless
round trips of every valid manifest, index and config through dockyard.oci."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from dockyard.errors import InvalidArgument
from dockyard.oci import Descriptor, ImageConfig, Index, Manifest, mediatypes

jsonschema = pytest.importorskip("jsonschema")
referencing = pytest.importorskip("referencing")

CASES_FILE = "oci-image-spec-cases.json"
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
_URI_BAD = re.compile(r"[\s<>\"{}|\\^`]")


def _load_cases() -> list[dict[str, Any]]:
    """Read at collection time (for parametrize ids); same location rule as conftest's fixture."""
    repo = Path(__file__).resolve().parents[3]
    root = Path(os.environ.get("DOCKYARD_CONFORMANCE", repo.parent / "shared" / "conformance"))
    path = root / CASES_FILE
    if not path.is_file():
        return []
    return json.loads(path.read_text())["cases"]


CASES = _load_cases()


def _format_checker() -> Any:
    checker = jsonschema.FormatChecker(formats=())

    @checker.checks("date-time")
    def _date_time(value: object) -> bool:
        return not isinstance(value, str) or bool(_RFC3339.match(value))

    @checker.checks("uri")
    def _uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        return bool(urlsplit(value).scheme) and not _URI_BAD.search(value)

    return checker


@pytest.fixture(scope="module")
def validators(conformance_dir: Path) -> dict[str, Any]:
    from referencing.jsonschema import DRAFT4

    schema_dir = conformance_dir / "oci-image-spec-schema"
    aliases = json.loads((conformance_dir / "oci-media-types.json").read_text())["schema_aliases"]
    resources = []
    schemas = {}
    for path in schema_dir.glob("*.json"):
        schema = json.loads(path.read_text())
        schemas[path.name] = schema
        resource = DRAFT4.create_resource(schema)
        for url in aliases.get(path.name, []):
            resources.append((url, resource))
            resources.append((url.rsplit("/", 1)[0] + "/" + path.name, resource))
    registry = referencing.Registry().with_resources(resources)
    checker = _format_checker()
    return {
        name: jsonschema.Draft4Validator(schema, registry=registry, format_checker=checker)
        for name, schema in schemas.items()
    }


def _base64_ok(obj: Any) -> bool:
    """defs.json's base64 `data`: padded standard base64, wherever a descriptor carries it."""
    if isinstance(obj, dict):
        data = obj.get("data")
        if isinstance(data, str):
            try:
                base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                return False
        return all(_base64_ok(v) for v in obj.values())
    if isinstance(obj, list):
        return all(_base64_ok(v) for v in obj)
    return True


def _dockyard_accepts(media_type: str, raw: bytes, obj: Any) -> bool:
    """The structural checks, done by dockyard's own parsers (as upstream decodes into Go types)."""
    try:
        if media_type == mediatypes.OCI_MANIFEST:
            Manifest.from_json(raw)
        elif media_type == mediatypes.OCI_INDEX:
            Index.from_json(raw)
        elif media_type == mediatypes.OCI_CONFIG:
            config = ImageConfig.from_json(raw)
            if any(not re.match(r"^[^=]+=.*$", e) for e in config.cfg.env or ()):
                return False
        elif media_type == mediatypes.OCI_DESCRIPTOR:
            Descriptor.from_dict(obj)
    except InvalidArgument:
        return False
    return True


@pytest.mark.parametrize("case", CASES, ids=[f"case{c['id']}" for c in CASES])
def test_case_validates_as_recorded(case: dict[str, Any], validators: dict[str, Any]):
    raw = case["document"].encode()
    try:
        obj = json.loads(raw)
    except ValueError:
        assert case["fail"], "an invalid JSON document must be a failing case"
        return
    ok = (
        _dockyard_accepts(case["media_type"], raw, obj)
        and _base64_ok(obj)
        and validators[case["schema"]].is_valid(obj)
    )
    assert ok == (not case["fail"]), case["comment"]


DOCUMENT_CASES = [
    c for c in CASES
    if not c["fail"]
    and c["media_type"] in (mediatypes.OCI_MANIFEST, mediatypes.OCI_INDEX, mediatypes.OCI_CONFIG)
]


def _parse(media_type: str, raw: bytes) -> Manifest | Index | ImageConfig:
    if media_type == mediatypes.OCI_MANIFEST:
        return Manifest.from_json(raw)
    if media_type == mediatypes.OCI_INDEX:
        return Index.from_json(raw)
    return ImageConfig.from_json(raw)


@pytest.mark.parametrize("case", DOCUMENT_CASES, ids=[f"case{c['id']}" for c in DOCUMENT_CASES])
def test_valid_documents_round_trip_without_loss(case: dict[str, Any]):
    raw = case["document"].encode()
    doc = _parse(case["media_type"], raw)
    assert doc.to_json() == raw
    assert doc.digest == "sha256:" + hashlib.sha256(raw).hexdigest()
    # re-encoded from the model (no raw bytes): every field survives
    fresh = doc.replace()
    assert fresh.raw is None
    assert json.loads(fresh.to_json()) == json.loads(raw)
    assert _parse(case["media_type"], fresh.to_json()) == doc


COMPAT_CASES = [c for c in CASES if c.get("document_docker_original")]


@pytest.mark.parametrize("case", COMPAT_CASES, ids=[f"case{c['id']}" for c in COMPAT_CASES])
def test_docker_originals_keep_their_digest(case: dict[str, Any]):
    raw = case["document_docker_original"].encode()
    media_type = case["media_type"]
    doc = _parse(media_type, raw)
    assert doc.digest == case["sha256_of_original"]
    if isinstance(doc, Manifest | Index):
        assert doc.is_docker
        converted = doc.to_oci() if isinstance(doc, Manifest) else None
        if converted is not None:
            assert converted.media_type == mediatypes.OCI_MANIFEST
            assert converted.digest != doc.digest
