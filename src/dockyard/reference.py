"""Image references (`registry/repo:tag@digest`) parsed and normalised exactly as Docker does."""

from __future__ import annotations

import re
from functools import cache

from dockyard.errors import InvalidArgument
from dockyard.oci.digest import Digest, validate_digest
from dockyard.records import FrozenRecord

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

# distribution/reference's grammar (Go regexps are ASCII; \w is [0-9A-Za-z_]), compiled on first
# use: the common plain forms are read by `_plain_parts` below without it.
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_REMOTE_NAME = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_AND_PORT = rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}"
_NAME = rf"(?:{_DOMAIN_AND_PORT}/)?{_REMOTE_NAME}"

_PATTERNS = {
    "reference": rf"^({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?$",
    "anchored_name": rf"^(?:({_DOMAIN_AND_PORT})/)?({_REMOTE_NAME})$",
    "tag": rf"^{_TAG}$",
    "digest": rf"^{_DIGEST}$",
    "identifier": r"^[a-f0-9]{64}$",
    "short_id": r"^[a-f0-9]{1,64}$",
}


@cache
def grammar(name: str) -> re.Pattern[str]:
    """The compiled pattern `name` of `_PATTERNS` (each compiled once, when first needed)."""
    return re.compile(_PATTERNS[name], re.ASCII)


# What `_plain_parts` reads by hand: characters of the grammar's own classes.
_ALNUM_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_HEX_CHARS = frozenset("0123456789abcdef")
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
_TAG_CHARS = _HOST_CHARS | frozenset("_.")
_DIGITS = frozenset("0123456789")

_HINT = "a reference looks like [registry[:port]/]repository[:tag][@sha256:<hex>], e.g. ubuntu:22.04"


def _invalid(text: str, reason: str) -> InvalidArgument:
    return InvalidArgument(f"invalid reference format {text!r}: {reason}", hint=_HINT)


class Reference(FrozenRecord):
    """A normalised named reference: domain + path, an optional tag and an optional digest."""

    def __init__(
        self, domain: str, path: str, tag: str | None = None, digest: Digest | None = None
    ) -> None:
        self.domain = domain
        self.path = path
        self.tag = tag
        self.digest = digest

    @property
    def name(self) -> str:
        """The repository name with its domain: `docker.io/library/ubuntu`."""
        return f"{self.domain}/{self.path}" if self.domain else self.path

    @property
    def repository(self) -> str:
        return self.name

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += ":" + self.tag
        if self.digest:
            out += "@" + self.digest
        return out

    def familiar_name(self) -> str:
        """Docker's short repository name: `ubuntu`, `user/app`, `localhost:5000/a/b`."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        path = self.path
        if path.startswith(OFFICIAL_REPO_PREFIX):
            rest = path[len(OFFICIAL_REPO_PREFIX) :]
            if "/" not in rest:
                return rest
        return path

    def familiar(self) -> str:
        """Docker's short form with its tag/digest: `ubuntu:latest`, `user/app@sha256:...`."""
        out = self.familiar_name()
        if self.tag:
            out += ":" + self.tag
        if self.digest:
            out += "@" + self.digest
        return out

    @property
    def is_name_only(self) -> bool:
        return self.tag is None and self.digest is None

    def with_tag(self, tag: str) -> Reference:
        """The same repository with `tag` (the digest, if any, is kept as Docker's WithTag does)."""
        if not (_is_tag(tag) or grammar("tag").match(tag)):
            raise InvalidArgument(
                f"invalid tag format {tag!r}",
                hint="a tag is up to 128 letters, digits, '_', '.' and '-', not starting with . or -",
            )
        return Reference(self.domain, self.path, tag, self.digest)

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.domain, self.path, self.tag, Digest(digest))

    def tag_name_only(self) -> Reference:
        """Adds `:latest` when there is neither a tag nor a digest (Docker's TagNameOnly)."""
        return self.with_tag(DEFAULT_TAG) if self.is_name_only else self

    def docker_ref(self) -> Reference:
        """Docker's ParseDockerRef: name:tag@digest keeps only the digest; bare names get latest."""
        if self.tag and self.digest:
            return Reference(self.domain, self.path, None, self.digest)
        return self.tag_name_only()

    @property
    def registry(self) -> str:
        """The host to contact (Docker Hub's API lives at registry-1.docker.io)."""
        return "registry-1.docker.io" if self.domain == DEFAULT_DOMAIN else self.domain


def split_docker_domain(name: str) -> tuple[str, str]:
    """Split `name` into a domain and a remote name, defaulting to Docker Hub's `library/`."""
    first, sep, rest = name.partition("/")
    if not sep:
        return DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + name
    if first == "localhost":
        domain, remote = first, rest
    elif first == LEGACY_DEFAULT_DOMAIN:
        domain, remote = DEFAULT_DOMAIN, rest
    elif "." in first or ":" in first or first.lower() != first:
        domain, remote = first, rest
    else:
        domain, remote = DEFAULT_DOMAIN, name
    if domain == DEFAULT_DOMAIN and "/" not in remote:
        remote = OFFICIAL_REPO_PREFIX + remote
    return domain, remote


def parse(text: str, display: str | None = None) -> Reference:
    """distribution/reference's Parse: the grammar only, no normalisation (a domain may be "").

    `display` is the user's spelling, shown in error messages instead of `text`.
    """
    shown = text if display is None else display
    if text == "":
        raise _invalid(shown, "repository name must have at least one component")
    if len(text) > 4096:
        raise _invalid(shown[:40] + "...", "reference is too long")
    domain, path, tag, digest = _plain_parts(text) or _grammar_parts(text, shown)
    name = f"{domain}/{path}" if domain else path
    if len(name) > NAME_TOTAL_LENGTH_MAX:  # the whole name, as distribution/reference v0.6
        raise _invalid(
            shown[:40] + "...",
            f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters",
        )
    dgst = None
    if digest:
        reason = validate_digest(digest)
        if reason is not None:
            raise _invalid(shown, f"invalid digest {digest!r}: {reason}")
        dgst = Digest(digest)
    return Reference(domain, path, tag or None, dgst)


def _grammar_parts(text: str, shown: str) -> tuple[str, str, str | None, str | None]:
    """(domain, path, tag or None, digest or None) of `text` by the full grammar."""
    match = grammar("reference").match(text)
    if match is None:
        if text.lower() != text and grammar("reference").match(text.lower()):
            raise _invalid(shown, "repository name must be lowercase")
        raise _invalid(shown, _explain(shown))
    name, tag, digest = match.group(1), match.group(2), match.group(3)
    name_match = grammar("anchored_name").match(name)
    domain, path = (name_match.group(1) or "", name_match.group(2)) if name_match else ("", name)
    return domain, path, tag or None, digest or None


def _plain_parts(text: str) -> tuple[str, str, str | None, str | None] | None:
    """What `_grammar_parts` gives for `text`, read without regexes, or None when `text` is not
    one of the plain forms handled here (an IPv6 host, a digest other than sha256 in lowercase
    hex, or anything the grammar rejects); then the grammar decides. A test compares both."""
    rest, at, digest = text.partition("@")
    if at and not (
        len(digest) == 71 and digest.startswith("sha256:") and _HEX_CHARS.issuperset(digest[7:])
    ):
        return None
    tag = None
    colon = rest.rfind(":")
    if colon > rest.rfind("/"):  # a ':' after the last '/' can only start the tag
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not _is_tag(tag):
            return None
    # The grammar takes the first component as the domain whenever it can be one.
    first, slash, remote = rest.partition("/")
    if slash and _is_domain(first) and _is_remote_name(remote):
        return first, remote, tag, digest or None
    if _is_remote_name(rest):
        return "", rest, tag, digest or None
    return None


def _is_tag(tag: str) -> bool:
    """`tag` matches _TAG (exactly; the regex's `$` would also let a final newline pass)."""
    return 0 < len(tag) <= 128 and tag[0] not in ".-" and _TAG_CHARS.issuperset(tag)


def _is_domain(text: str) -> bool:
    """`text` matches _DOMAIN_AND_PORT, IPv6 hosts left out (False for them)."""
    host, colon, port = text.partition(":")
    if colon and not (port and _DIGITS.issuperset(port)):
        return False
    return all(
        part and part[0] != "-" and part[-1] != "-" and _HOST_CHARS.issuperset(part)
        for part in host.split(".")
    )


def _is_remote_name(text: str) -> bool:
    """`text` matches _REMOTE_NAME: path components of lowercase letters and digits, joined
    within a component by one separator each: '.', '_', '__' or any number of '-'."""
    for component in text.split("/"):
        if not component or component[0] not in _ALNUM_CHARS or component[-1] not in _ALNUM_CHARS:
            return False
        separator = ""
        for ch in component:
            if ch in _ALNUM_CHARS:
                if separator and separator not in (".", "_", "__") and separator.strip("-"):
                    return False
                separator = ""
            elif ch in "._-":
                separator += ch
            else:
                return False
    return True


def _explain(text: str) -> str:
    """A best-effort reason for text the reference grammar rejects."""
    rest = text
    at = rest.find("@")
    if at >= 0:
        digest = rest[at + 1 :]
        rest = rest[:at]
        if not grammar("digest").match(digest):
            return f"invalid digest {digest!r}" + (
                f": {validate_digest(digest)}" if validate_digest(digest) else ""
            )
    last = rest.rfind(":")
    if last > rest.rfind("/"):
        tag = rest[last + 1 :]
        if not grammar("tag").match(tag):
            if len(tag) > 128:
                return "tag must not be more than 128 characters"
            return f"invalid tag {tag!r} (letters, digits, '_', '.', '-'; not starting with . or -)"
        rest = rest[:last]
    if not rest:
        return "repository name must have at least one component"
    if rest.endswith("/") or "//" in rest:
        return "repository name has an empty path component"
    return (
        f"invalid repository name {rest!r} (lowercase letters, digits and separators . _ __ -,"
        " each component starting and ending with a letter or digit)"
    )


def _is_identifier(text: str) -> bool:
    """64 lowercase hex digits: an image ID, never a name (as the "identifier" pattern says)."""
    if len(text) == 64 and _HEX_CHARS.issuperset(text):
        return True
    return len(text) == 65 and bool(grammar("identifier").match(text))  # its `$`: a final newline


def parse_reference(text: str, *, default_tag: bool = True) -> Reference:
    """Docker's ParseNormalizedNamed (+ TagNameOnly unless `default_tag=False`).

    `ubuntu` -> `docker.io/library/ubuntu:latest`; `localhost:5000/a/b` keeps its domain.
    """
    if not isinstance(text, str):
        raise InvalidArgument(f"invalid reference {text!r}: not a string")
    if _is_identifier(text):
        raise InvalidArgument(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings",
            hint="this looks like an image ID, not a name",
        )
    domain, remainder = split_docker_domain(text)
    remote = remainder.split(":", 1)[0]
    if remote.lower() != remote:
        raise InvalidArgument(
            f"invalid reference format: repository name ({remote}) must be lowercase",
            hint="use lowercase letters in repository names (tags may have capitals)",
        )
    if text == "":
        raise _invalid(text, "repository name must have at least one component")
    ref = parse(f"{domain}/{remainder}", display=text)
    return ref.tag_name_only() if default_tag else ref


def parse_name(text: str) -> Reference:
    """A normalised repository name with neither tag nor digest (as `docker push NAME` wants)."""
    return parse_reference(text, default_tag=False)


def try_parse_reference(text: str, *, default_tag: bool = True) -> Reference | None:
    try:
        return parse_reference(text, default_tag=default_tag)
    except InvalidArgument:
        return None


def is_image_id(text: str) -> bool:
    """True for what Docker treats as an image ID, not a name: 64 hex or `sha256:<64 hex>`."""
    if _is_identifier(text):
        return True
    return text.startswith("sha256:") and validate_digest(text) is None


def is_short_id(text: str) -> bool:
    """A (possibly truncated) hex ID; such text may also be a valid name, so try both."""
    if text.startswith("sha256:"):
        text = text[len("sha256:") :]
    return bool(grammar("short_id").match(text))


def parse_any(text: str) -> Reference | Digest:
    """Docker's ParseAnyReference: an image ID / digest gives a Digest, anything else a Reference."""
    if _is_identifier(text):
        return Digest("sha256:" + text)
    if validate_digest(text) is None:
        return Digest(text)
    return parse_reference(text, default_tag=False)


def familiar(text: str) -> str:
    """The familiar form of a normalised reference string (`docker.io/library/x:1` -> `x:1`)."""
    return parse_reference(text, default_tag=False).familiar()


def normalize(text: str) -> str:
    """The full normalised string of a reference (`ubuntu` -> `docker.io/library/ubuntu:latest`)."""
    return str(parse_reference(text))
