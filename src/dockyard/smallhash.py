"""sha256 for small inputs without loading OpenSSL: the interpreter's builtin module when present.

hashlib's sha256 comes from OpenSSL, and loading libcrypto costs a few milliseconds of a
short command; for a few hundred bytes (a schema, a cache signature) the builtin one is as
fast. Big data still goes through hashlib.
"""

from __future__ import annotations

try:
    from _sha256 import sha256
except ImportError:  # pragma: no cover - Python 3.12 renamed the module _sha2
    try:
        from _sha2 import sha256
    except ImportError:
        from hashlib import sha256

__all__ = ["sha256"]
