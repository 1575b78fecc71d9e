"""Standard Webhooks signing, checked against an independent implementation."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newswatch.alerter import signing
from tests.alerter.receiver import reference_signature

Mutation = Callable[[dict[str, str], bytes, int], tuple[dict[str, str], bytes, int]]
SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()


def test_generated_secret_has_the_standard_form() -> None:
    secret = signing.generate_secret()
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]+={0,2}", secret)
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert secret != signing.generate_secret()


def test_sign_matches_the_reference_implementation() -> None:
    body = b'{"alert_id":"a1","title":"Palmyre"}'
    got = signing.sign(SECRET, "msg_1", 1_700_000_000, body)
    assert got == reference_signature(SECRET, "msg_1", "1700000000", body)


def test_sign_matches_the_published_standard_webhooks_example() -> None:
    # The example from the Standard Webhooks specification.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert signing.sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected


@given(msg_id=st.text(min_size=1, max_size=40), stamp=st.integers(0, 2**40), body=st.binary(max_size=512))
def test_sign_equals_reference_for_any_input(msg_id: str, stamp: int, body: bytes) -> None:
    assert signing.sign(SECRET, msg_id, stamp, body) == reference_signature(SECRET, msg_id, str(stamp), body)


def _headers(body: bytes, stamp: int, secret: str = SECRET, msg_id: str = "msg_x") -> dict[str, str]:
    return signing.signed_headers(secret, msg_id, stamp, body)


def test_verify_accepts_a_fresh_valid_request() -> None:
    now = 1_700_000_000
    signing.verify(SECRET, _headers(b"{}", now), b"{}", now=now + 10)


def test_verify_accepts_any_of_several_signatures_and_any_header_case() -> None:
    now = 1_700_000_000
    headers = _headers(b"{}", now)
    other = signing.sign(signing.generate_secret(), "msg_x", now, b"{}")
    headers = {
        "Webhook-Id": headers["webhook-id"],
        "Webhook-Timestamp": headers["webhook-timestamp"],
        "Webhook-Signature": f"{other} {headers['webhook-signature']}",
    }
    signing.verify(SECRET, headers, b"{}", now=now)


@pytest.mark.parametrize(
    ("case", "mutate"),
    [
        ("tampered body", lambda h, b, n: (h, b + b" ", n)),
        ("other secret", lambda h, b, n: (_headers(b, n, signing.generate_secret()), b, n)),
        ("stale timestamp", lambda h, b, n: (h, b, n + 301)),
        ("future timestamp", lambda h, b, n: (h, b, n - 301)),
        ("other id", lambda h, b, n: ({**h, "webhook-id": "msg_y"}, b, n)),
        (
            "missing signature",
            lambda h, b, n: ({k: v for k, v in h.items() if k != "webhook-signature"}, b, n),
        ),
        (
            "v2 only",
            lambda h, b, n: ({**h, "webhook-signature": h["webhook-signature"].replace("v1,", "v2,")}, b, n),
        ),
        ("bad timestamp", lambda h, b, n: ({**h, "webhook-timestamp": "soon"}, b, n)),
    ],
)
def test_verify_refuses(case: str, mutate: Mutation) -> None:
    now = 1_700_000_000
    headers, body, when = mutate(_headers(b'{"a":1}', now), b'{"a":1}', now)
    with pytest.raises(signing.SignatureError) as info:
        signing.verify(SECRET, headers, body, now=when)
    assert SECRET not in str(info.value)


def test_verify_uses_the_current_time_by_default() -> None:
    signing.verify(SECRET, _headers(b"x", int(time.time())), b"x")
    with pytest.raises(signing.SignatureError):
        signing.verify(SECRET, _headers(b"x", int(time.time()) - 3600), b"x")


@pytest.mark.parametrize(
    "bad",
    ["", "secret", "whsec_", "whsec_!!notbase64!!", "whsec_" + base64.b64encode(b"short").decode(),
     "whsec_" + base64.b64encode(bytes(65)).decode()],
)  # fmt: skip
def test_invalid_secrets_are_refused_without_echoing_them(bad: str) -> None:
    with pytest.raises(signing.InvalidSecretError) as info:
        signing.sign(bad, "msg", 1, b"")
    assert info.value.retriable is False
    if len(bad) > len("whsec_"):
        assert bad.removeprefix("whsec_") not in str(info.value)
