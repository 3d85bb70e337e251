"""Distribution-spec error bodies, and the name / tag / digest checks the server applies."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.responses import Response

NAME_RE = re.compile(
    r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$"
)
TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
ANY_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
NAME_MAX = 255

API_HEADERS = {"Docker-Distribution-API-Version": "registry/2.0"}

MESSAGES = {
    "BLOB_UNKNOWN": "blob unknown to registry",
    "BLOB_UPLOAD_INVALID": "blob upload invalid",
    "BLOB_UPLOAD_UNKNOWN": "blob upload unknown to registry",
    "DIGEST_INVALID": "provided digest did not match uploaded content",
    "MANIFEST_BLOB_UNKNOWN": "manifest references a manifest or blob unknown to registry",
    "MANIFEST_INVALID": "manifest invalid",
    "MANIFEST_UNKNOWN": "manifest unknown to registry",
    "NAME_INVALID": "invalid repository name",
    "NAME_UNKNOWN": "repository name not known to registry",
    "SIZE_INVALID": "provided length did not match content length",
    "UNAUTHORIZED": "authentication required",
    "DENIED": "requested access to the resource is denied",
    "UNSUPPORTED": "the operation is unsupported",
    "TOOMANYREQUESTS": "too many requests",
}


def error(
    status: int, code: str, detail: Any = None, headers: dict[str, str] | None = None,
    message: str | None = None,
) -> Response:
    """A JSON error response in the spec's shape: {"errors": [{code, message, detail}]}."""
    body = {"errors": [{"code": code, "message": message or MESSAGES[code], "detail": detail}]}
    all_headers = dict(API_HEADERS)
    all_headers.update(headers or {})
    return Response(
        json.dumps(body) + "\n", status_code=status, headers=all_headers,
        media_type="application/json",
    )


def name_problem(name: str) -> str | None:
    """Why `name` is not a valid repository name (None when it is)."""
    if len(name) > NAME_MAX:
        return f"repository name must not be more than {NAME_MAX} characters"
    if not NAME_RE.match(name):
        return "repository name must match [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/...)*"
    return None


def is_digest(text: str) -> bool:
    return bool(DIGEST_RE.match(text))
