"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

A secret is ``"whsec_"`` followed by the base64 of 24–64 random bytes (we generate 32). The signature of
one delivery is ``"v1," + base64(HMAC-SHA256(key, f"{msg_id}.{timestamp}.{body}"))`` where ``key`` is the
base64-decoded secret and ``timestamp`` is whole seconds since the epoch. The three request headers are
``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (a space-separated list of signatures;
receivers accept any one that matches, which allows rotating secrets).

Errors::

    NewswatchError
    ├── InvalidSecretError         the secret is not "whsec_" + base64 of 24–64 bytes (not retriable)
    └── SignatureError             a request does not carry a valid, fresh signature (not retriable)

Secrets never appear in error messages.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping

from newswatch.errors import NewswatchError

__all__ = [
    "HEADER_ID",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "SECRET_PREFIX",
    "InvalidSecretError",
    "SignatureError",
    "generate_secret",
    "sign",
    "signed_headers",
    "validate_secret",
    "verify",
]

SECRET_PREFIX = "whsec_"  # noqa: S105 — the format marker, not a secret
HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"
_KEY_BYTES = 32
_MIN_KEY_BYTES = 24
_MAX_KEY_BYTES = 64
_VERSION = "v1"


class InvalidSecretError(NewswatchError):
    """The secret is not ``whsec_`` + base64 of 24–64 bytes."""


class SignatureError(NewswatchError):
    """A webhook request is unsigned, signed with another secret, or too old / too far in the future."""


def generate_secret() -> str:
    """A fresh secret: ``"whsec_"`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_KEY_BYTES)).decode("ascii")


def _key(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidSecretError(f"webhook secret must start with {SECRET_PREFIX!r}")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSecretError("webhook secret is not valid base64") from None
    if not _MIN_KEY_BYTES <= len(key) <= _MAX_KEY_BYTES:
        raise InvalidSecretError(
            f"webhook secret must decode to {_MIN_KEY_BYTES}-{_MAX_KEY_BYTES} bytes, got {len(key)}"
        )
    return key


def validate_secret(secret: str) -> None:
    """Raise InvalidSecretError unless ``secret`` can sign."""
    _key(secret)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``"v1,<base64 HMAC-SHA256>"`` of ``f"{msg_id}.{timestamp}.{body}"``. Raises InvalidSecretError."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return f"{_VERSION},{base64.b64encode(digest).decode('ascii')}"


def signed_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for one request."""
    return {
        HEADER_ID: msg_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: sign(secret, msg_id, timestamp, body),
    }


def _get(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise SignatureError(f"missing {name} header")


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> None:
    """Check a received request; return None when valid, raise SignatureError otherwise.

    The timestamp must lie within ``tolerance_seconds`` of ``now`` (default: the current time) in either
    direction, and one of the ``v1`` signatures in ``webhook-signature`` must match (constant-time).
    """
    msg_id = _get(headers, HEADER_ID)
    raw_timestamp = _get(headers, HEADER_TIMESTAMP)
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise SignatureError("webhook-timestamp is not an integer") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise SignatureError(f"webhook-timestamp is more than {tolerance_seconds}s away from now")
    expected = sign(secret, msg_id, timestamp, body).encode("ascii")
    for candidate in _get(headers, HEADER_SIGNATURE).split():
        version, _, _ = candidate.partition(",")
        if version == _VERSION and hmac.compare_digest(candidate.encode("utf-8", "replace"), expected):
            return
    raise SignatureError("no webhook-signature matches")
