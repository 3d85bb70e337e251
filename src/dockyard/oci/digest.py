"""Content digests (`algorithm:hex`) as go-digest defines them, plus a streaming hasher."""

from __future__ import annotations

import hashlib
import re
from typing import BinaryIO

from dockyard.errors import InvalidArgument

# algorithm -> length of the hex encoding
ALGORITHMS: dict[str, int] = {"sha256": 64, "sha384": 96, "sha512": 128}
CANONICAL = "sha256"

_DIGEST_GRAMMAR = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
_HEX = re.compile(r"^[a-f0-9]+$")
_HINT = "a digest looks like sha256:<64 lowercase hex characters>"


def validate_digest(value: str, allow_unknown: bool = False) -> str | None:
    """Return why `value` is not a valid digest (go-digest's rules), or None when it is.

    With `allow_unknown`, an unregistered algorithm that fits the OCI digest grammar passes
    (as the image spec asks of descriptor digests); its encoding cannot be checked.
    """
    if not isinstance(value, str):
        return "digest must be a string"
    i = value.find(":")
    if i <= 0 or i + 1 == len(value):
        return "invalid checksum digest format"
    algorithm, encoded = value[:i], value[i + 1 :]
    size = ALGORITHMS.get(algorithm)
    if size is None:
        if not _DIGEST_GRAMMAR.match(value):
            return "invalid checksum digest format"
        return None if allow_unknown else f"unsupported digest algorithm {algorithm!r}"
    if len(encoded) != size:
        return f"invalid checksum digest length (want {size} hex characters, got {len(encoded)})"
    if not _HEX.match(encoded):
        return "invalid checksum digest format (hex must be lowercase [a-f0-9])"
    return None


class Digest(str):
    """A validated `algorithm:hex` digest; it *is* its string form, so it works as a dict key."""

    __slots__ = ()

    def __new__(cls, value: str, allow_unknown: bool = False) -> Digest:
        if isinstance(value, Digest):
            return value
        reason = validate_digest(value, allow_unknown)
        if reason is not None:
            raise InvalidArgument(f"invalid digest {value!r}: {reason}", hint=_HINT)
        return super().__new__(cls, value)

    @classmethod
    def parse(cls, value: str) -> Digest:
        return cls(value)

    @classmethod
    def from_bytes(cls, data: bytes, algorithm: str = CANONICAL) -> Digest:
        return Hasher(algorithm).update(data).digest()

    @classmethod
    def from_stream(cls, stream: BinaryIO, algorithm: str = CANONICAL, chunk: int = 1 << 20) -> Digest:
        hasher = Hasher(algorithm)
        while block := stream.read(chunk):
            hasher.update(block)
        return hasher.digest()

    @property
    def supported(self) -> bool:
        """Whether dockyard can compute this digest's algorithm (sha256/sha384/sha512)."""
        return self.algorithm in ALGORITHMS

    @property
    def algorithm(self) -> str:
        return self.partition(":")[0]

    @property
    def hex(self) -> str:
        return self.partition(":")[2]

    @property
    def encoded(self) -> str:
        return self.hex

    def short(self, length: int = 12) -> str:
        """The short ID docker prints: the first `length` hex characters."""
        return self.hex[:length]

    def verify(self, data: bytes) -> bool:
        """Whether `data` hashes to this digest (InvalidArgument for an unknown algorithm)."""
        return Digest.from_bytes(data, self.algorithm) == self

    def __repr__(self) -> str:
        return f"Digest({str(self)!r})"


class Hasher:
    """Incremental digest of a stream: `update()` chunks, then `digest()` and `size`."""

    def __init__(self, algorithm: str = CANONICAL) -> None:
        if algorithm not in ALGORITHMS:
            raise InvalidArgument(
                f"unsupported digest algorithm {algorithm!r}",
                hint="use one of " + ", ".join(ALGORITHMS),
            )
        self.algorithm = algorithm
        self._h = hashlib.new(algorithm)
        self.size = 0

    def update(self, data: bytes | bytearray | memoryview) -> Hasher:
        self._h.update(data)
        self.size += len(data)
        return self

    def digest(self) -> Digest:
        return Digest(f"{self.algorithm}:{self._h.hexdigest()}")

    def hexdigest(self) -> str:
        return self._h.hexdigest()

    def copy(self) -> Hasher:
        other = Hasher.__new__(Hasher)
        other.algorithm, other._h, other.size = self.algorithm, self._h.copy(), self.size
        return other


class HashingReader:
    """Wraps a binary stream; hashes and counts everything read through it."""

    def __init__(self, stream: BinaryIO, algorithm: str = CANONICAL) -> None:
        self._stream = stream
        self.hasher = Hasher(algorithm)

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        self.hasher.update(data)
        return data

    def readinto(self, buf: bytearray | memoryview) -> int:
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def digest(self) -> Digest:
        return self.hasher.digest()

    @property
    def size(self) -> int:
        return self.hasher.size


def is_digest(value: str) -> bool:
    return validate_digest(value) is None
