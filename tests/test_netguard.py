from __future__ import annotations

import pytest

from newswatch.errors import UnsafeURLError
from newswatch.netguard import address_allowed, check_url, resolve_and_check


@pytest.mark.parametrize(
    ("url", "allow_private", "ok"),
    [
        ("https://www.mondialisation.ca/feed", False, True),
        ("http://93.184.216.34/feed.xml", False, True),
        ("ftp://example.org/feed", False, False),
        ("file:///etc/passwd", True, False),
        ("https://user:pw@example.org/feed", False, False),
        ("http://127.0.0.1:8765/sample.xml", False, False),
        ("http://127.0.0.1:8765/sample.xml", True, True),
        ("http://localhost/feed", False, False),
        ("http://169.254.169.254/latest/meta-data/", False, False),
        ("http://10.0.0.8/feed", False, False),
        ("http://[::1]/feed", False, False),
        ("http://[::ffff:127.0.0.1]/feed", False, False),
        ("http://metadata.google.internal/", False, False),
        ("http://0.0.0.0/", True, False),
        ("", False, False),
        ("not a url", False, False),
    ],
)
def test_check_url(url: str, allow_private: bool, ok: bool) -> None:
    if ok:
        assert check_url(url, allow_private).host
    else:
        with pytest.raises(UnsafeURLError):
            check_url(url, allow_private)


@pytest.mark.parametrize(
    ("address", "allow_private", "ok"),
    [
        ("8.8.8.8", False, True),
        ("192.168.1.1", False, False),
        ("192.168.1.1", True, True),
        ("fd00::1", False, False),
        ("224.0.0.1", True, False),
        ("nonsense", True, False),
    ],
)
def test_address_allowed(address: str, allow_private: bool, ok: bool) -> None:
    assert address_allowed(address, allow_private) is ok


async def test_resolution_is_checked() -> None:
    with pytest.raises(UnsafeURLError, match="private"):
        await resolve_and_check("http://localhost.:9/feed", allow_private=False)
    assert (await resolve_and_check("http://127.0.0.1:9/feed", allow_private=True)).port == 9
