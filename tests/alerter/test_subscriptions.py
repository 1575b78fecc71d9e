"""Building, validating and storing subscriptions."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from newswatch.alerter import payloads, signing
from newswatch.alerter.subscriptions import (
    REDACTED,
    InvalidSubscriptionError,
    add_subscription,
    list_subscriptions,
    new_subscription,
    normalised,
    redacted,
    remove_subscription,
    validated,
)
from newswatch.alerter.validation import check_address, parse_quiet_hours
from newswatch.cli import _subscription_from_args, build_parser
from newswatch.settings import Settings, load_settings


def test_webhook_subscription_gets_an_id_and_a_fresh_secret() -> None:
    a = new_subscription("ops", webhook_url="https://hooks.example.org/x", allow_private=False)
    b = new_subscription("ops", webhook_url="https://hooks.example.org/x", allow_private=False)
    assert a.subscription_id and a.subscription_id != b.subscription_id
    assert a.enabled and a.WhichOneof("channel") == "webhook"
    assert a.webhook.url == "https://hooks.example.org/x"
    signing.validate_secret(a.webhook.secret)
    assert a.webhook.secret != b.webhook.secret
    assert a.created_at.seconds > 0


def test_given_secret_and_filters_are_kept_normalised() -> None:
    secret = "whsec_" + base64.b64encode(bytes(32)).decode()
    s = new_subscription(
        " ops ",
        webhook_url="https://hooks.example.org/x",
        secret=secret,
        countries=["sy", " SY", "iq", ""],
        terms=["ISIS", "ISIS"],
        min_score=0.5,
        allow_private=False,
    )
    assert s.name == "ops"
    assert s.webhook.secret == secret
    assert list(s.countries) == ["SY", "IQ"]
    assert list(s.terms) == ["ISIS"]
    assert s.min_score == 0.5


def test_console_subscription() -> None:
    s = new_subscription("log", console=True, allow_private=False)
    assert s.WhichOneof("channel") == "console"
    assert not s.HasField("webhook")


INVALID: list[tuple[str, dict[str, Any]]] = [
    ("no channel", {}),
    ("two channels", {"webhook_url": "https://h.example.org/", "console": True}),
    ("empty name", {"name": "  ", "console": True}),
    ("ftp URL", {"webhook_url": "ftp://h.example.org/"}),
    ("credentials in URL", {"webhook_url": "https://u:p@h.example.org/"}),
    ("loopback URL", {"webhook_url": "http://127.0.0.1:8080/hook"}),
    ("metadata URL", {"webhook_url": "http://169.254.169.254/latest"}),
    ("bad secret", {"webhook_url": "https://h.example.org/", "secret": "hunter2"}),
    ("secret for console", {"console": True, "secret": signing.generate_secret()}),
    ("negative score", {"console": True, "min_score": -1.0}),
    ("NaN score", {"console": True, "min_score": float("nan")}),
    ("unknown region", {"console": True, "regions": ["atlantis"]}),
    ("three-letter country", {"console": True, "countries": ["SYR"]}),
    ("not a language tag", {"console": True, "languages": ["français"]}),
    ("101 terms", {"console": True, "terms": [f"t{i}" for i in range(101)]}),
    ("a 201-character term", {"console": True, "terms": ["t" * 201]}),
    ("a control character in a value", {"console": True, "watchlists": ["a\nb"]}),
    ("a 201-character name", {"name": "n" * 201, "console": True}),
]


@pytest.mark.parametrize(("case", "kwargs"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_subscriptions_are_refused(case: str, kwargs: dict[str, Any]) -> None:
    kwargs.setdefault("name", "ops")
    with pytest.raises(InvalidSubscriptionError) as info:
        new_subscription(allow_private=False, **kwargs)
    assert info.value.retriable is False
    assert "hunter2" not in str(info.value)


def test_filters_are_written_in_canonical_form() -> None:
    s = new_subscription(
        "ops",
        console=True,
        regions=["MENA", " levant ", "mena"],
        languages=["FR", "fr_ca", "zh-hant", "fr"],
        allow_private=False,
    )
    assert list(s.regions) == ["mena", "levant"]
    assert list(s.languages) == ["fr", "fr-CA", "zh-Hant"]


@pytest.mark.parametrize("bad_id", ["", "a b", "-leading-dash", "x" * 129, "é", "a/b"])
def test_ids_are_refused_unless_url_safe(bad_id: str) -> None:
    s = new_subscription("ops", console=True, allow_private=False)
    s.subscription_id = bad_id
    with pytest.raises(InvalidSubscriptionError) as info:
        normalised(s, allow_private=False)
    assert info.value.field == "id"


def test_errors_name_the_field_and_code() -> None:
    with pytest.raises(InvalidSubscriptionError) as info:
        new_subscription("ops", webhook_url="http://10.0.0.1/", allow_private=False)
    assert (info.value.field, info.value.code) == ("channel.url", "unsafe_url")
    with pytest.raises(InvalidSubscriptionError) as info:
        new_subscription("ops", console=True, regions=["nowhere"], allow_private=False)
    assert (info.value.field, info.value.code) == ("regions", "invalid_value")


async def test_validated_resolves_the_webhook_host(fake_dns: None) -> None:
    public = new_subscription("ops", webhook_url="https://hooks.example.org/x", allow_private=False)
    assert (await validated(public, allow_private=False)).webhook.url == "https://hooks.example.org/x"
    private = new_subscription("ops", webhook_url="https://internal.example.org/x", allow_private=False)
    with pytest.raises(InvalidSubscriptionError) as info:
        await validated(private, allow_private=False)
    assert (info.value.code, info.value.retriable) == ("unsafe_url", False)
    assert "10.1.2.3" in str(info.value)
    assert (await validated(private, allow_private=True)).webhook.url == "https://internal.example.org/x"
    nowhere = new_subscription("ops", webhook_url="https://nowhere.example.org/x", allow_private=False)
    with pytest.raises(InvalidSubscriptionError) as info:
        await validated(nowhere, allow_private=False)
    assert (info.value.code, info.value.retriable) == ("unresolvable_url", True)


async def test_the_cli_path_refuses_hosts_that_resolve_to_private_addresses(fake_dns: None) -> None:
    # Refused before any Kafka client is made: no broker is needed (none is configured here).
    cfg = load_settings(environ={"NEWSWATCH_KAFKA_BOOTSTRAP": "127.0.0.1:1"})
    sub = new_subscription("ops", webhook_url="https://meta.example.org/latest", allow_private=False)
    with pytest.raises(InvalidSubscriptionError, match=r"169\.254\.169\.254"):
        await add_subscription(cfg, sub)


JSON = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
SLACK_URL = "https://hooks.example.org/T/SECRETPATH"
ADDRESSES = [
    "ops@example.org",
    "a.b+c@x.example.net",
    "Ops <ops@example.org>",
    "x@y",
    "a@b.org\r\nBcc: z@e.org",
]
ZONES = ["Europe/Paris", "UTC", "Mars/Base", "../etc/passwd", ""]
FIELD_VALUES = st.fixed_dictionaries(
    {},
    optional={
        "name": JSON | st.text(max_size=30),
        "enabled": JSON,
        "terms": st.lists(st.text(max_size=10), max_size=5) | JSON,
        "regions": st.lists(st.sampled_from(["mena", "MENA", "europe", "atlantis", ""]), max_size=3),
        "languages": st.lists(st.sampled_from(["fr", "fr-CA", "x", "english!", "zh_Hant"]), max_size=3),
        "min_score": JSON,
        "channel": JSON
        | st.fixed_dictionaries(
            {"type": st.sampled_from(["webhook", "slack", "email", "console", "stream", "x"])},
            optional={
                "url": st.sampled_from([SLACK_URL, "x"]) | st.text(max_size=40),
                "secret": st.text(max_size=60) | JSON,
                "to": st.lists(st.sampled_from(ADDRESSES) | st.text(max_size=20), max_size=3) | JSON,
                "subject_prefix": st.text(max_size=60) | JSON,
            },
        ),
        "rate_limit_per_hour": st.integers(-5, 200_000) | JSON,
        "digest": st.none()
        | JSON
        | st.fixed_dictionaries({}, optional={"every_alerts": st.integers(-1, 2000) | JSON,
                                              "every_seconds": st.integers(-1, 10**6)}),
        "quiet_hours": st.none()
        | JSON
        | st.fixed_dictionaries(
            {"start": st.sampled_from(["22:00", "7:00", "24:00", ""]) | st.text(max_size=6)},
            optional={"end": st.sampled_from(["07:00", "22:00"]), "timezone": st.sampled_from(ZONES) | JSON},
        ),
        "owner_email": st.sampled_from(ADDRESSES) | st.text(max_size=20) | JSON,
        "id": JSON,
    },
)  # fmt: skip


@hsettings(max_examples=400, deadline=None)
@given(body=JSON | FIELD_VALUES)
def test_request_bodies_never_raise_anything_but_invalid_subscription(body: Any) -> None:
    """Property: any JSON body is either a valid subscription or a clear InvalidSubscriptionError."""
    current = new_subscription("ops", webhook_url="https://hooks.example.org/x", allow_private=False)
    for build in (lambda: payloads.new_from_json(body, "sub-1"), lambda: payloads.patched(current, body)):
        try:
            draft, generated = build()
            clean = normalised(draft, allow_private=False)
        except InvalidSubscriptionError as exc:
            assert str(exc) and exc.code
            continue
        assert clean.name and clean.WhichOneof("channel") in payloads.CHANNEL_TYPES
        if generated is not None:
            assert clean.webhook.secret == generated
        shown = payloads.to_json(clean)
        assert "secret" not in shown["channel"]
        assert "SECRETPATH" not in json.dumps(shown) or clean.HasField("webhook")
        for address in [*clean.email.to, clean.owner_email]:
            assert not set(address) & set('\r\n, <>"')


def test_loopback_webhook_allowed_when_private_networks_are() -> None:
    s = new_subscription("dev", webhook_url="http://127.0.0.1:8080/hook", allow_private=True)
    assert s.webhook.url == "http://127.0.0.1:8080/hook"


def test_redacted_hides_the_secret_and_leaves_the_original() -> None:
    s = new_subscription("ops", webhook_url="https://h.example.org/", allow_private=False)
    secret = s.webhook.secret
    assert redacted(s).webhook.secret == REDACTED
    assert s.webhook.secret == secret


@pytest.mark.integration
async def test_add_list_remove_on_the_real_broker(settings: Settings) -> None:
    name = f"test-{uuid.uuid4().hex}"
    s = new_subscription(name, webhook_url="http://127.0.0.1:9/hook", terms=["isis"], allow_private=True)
    await add_subscription(settings, s)
    listed = {x.subscription_id: x for x in await list_subscriptions(settings)}
    assert listed[s.subscription_id].name == name
    assert listed[s.subscription_id].webhook.secret == REDACTED
    assert list(listed[s.subscription_id].terms) == ["isis"]
    with pytest.raises(InvalidSubscriptionError):
        await add_subscription(settings, listed[s.subscription_id])  # a redacted copy cannot overwrite
    assert await remove_subscription(settings, s.subscription_id) is True
    assert s.subscription_id not in {x.subscription_id for x in await list_subscriptions(settings)}
    assert await remove_subscription(settings, s.subscription_id) is False


# ---------------------------------------------------------------- Slack, email, stream, delivery policy


def test_slack_email_and_stream_subscriptions() -> None:
    slack = new_subscription(
        "s", slack_url="https://hooks.example.org/services/T/B/SECRET", allow_private=False
    )
    assert slack.slack.url == "https://hooks.example.org/services/T/B/SECRET"
    assert redacted(slack).slack.url == "https://hooks.example.org/…" and slack.slack.url.endswith("SECRET")
    mail = new_subscription("m", email_to=["ops@Example.org"], subject_prefix=" [ops] ", allow_private=False)
    assert list(mail.email.to) == ["ops@example.org"] and mail.email.subject_prefix == "[ops]"
    assert new_subscription("t", stream=True, allow_private=False).WhichOneof("channel") == "stream"


@pytest.mark.parametrize(
    ("case", "kwargs", "field"),
    [
        ("two channels", {"slack_url": "https://hooks.example.org/x", "stream": True}, "channel"),
        ("no channel", {}, "channel"),
        ("prefix without email", {"console": True, "subject_prefix": "[x]"}, "channel.subject_prefix"),
        (
            "secret on slack",
            {"slack_url": "https://hooks.example.org/x", "secret": "whsec_x"},
            "channel.secret",
        ),
        ("slack ftp", {"slack_url": "ftp://hooks.example.org/x"}, "channel.url"),
        ("slack private", {"slack_url": "http://192.168.1.1/x"}, "channel.url"),
        ("bad address", {"email_to": ["nobody"]}, "channel.to"),
    ],
)
def test_invalid_channels_are_refused(case: str, kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidSubscriptionError) as info:
        new_subscription("x", allow_private=False, **kwargs)
    assert info.value.field == field


async def test_validated_resolves_the_slack_host(fake_dns: None) -> None:
    sub = new_subscription("s", slack_url="https://internal.example.org/hook", allow_private=False)
    with pytest.raises(InvalidSubscriptionError) as info:
        await validated(sub, allow_private=False)
    assert info.value.code == "unsafe_url" and "Slack" in str(info.value)


@pytest.mark.parametrize(
    "address",
    ["ops@example.org", "first.last+tag@mail.example.co.uk", "o'neil@example.org", "x_y@a-b.example"],
)
def test_valid_addresses(address: str) -> None:
    assert check_address(address, "f").lower() == address.lower()


@pytest.mark.parametrize(
    "address",
    ["", "ops", "@example.org", "ops@", "ops@localhost", "a..b@example.org", ".a@example.org",
     "a@-x.example.org", "Ops <ops@example.org>", '"a b"@example.org', "a@example.org\r\nBcc: x@y.org",
     "a@example.org,b@example.org", "a b@example.org", "x" * 65 + "@example.org",
     "a@" + "b" * 250 + ".org"],
)  # fmt: skip
def test_invalid_addresses(address: str) -> None:
    with pytest.raises(InvalidSubscriptionError):
        check_address(address, "f")


@hsettings(max_examples=500, deadline=None)
@given(text=st.text(max_size=80))
def test_addresses_accepted_never_hold_header_syntax(text: str) -> None:
    """Property: an accepted address is one token that cannot start or split a header."""
    try:
        address = check_address(text, "f")
    except InvalidSubscriptionError as exc:
        assert exc.field == "f"
        return
    assert address.count("@") == 1 and address.isascii() and address.isprintable()
    assert not set(address) & set(' \r\n\t,;:<>()[]"\\')


@hsettings(max_examples=300, deadline=None)
@given(text=st.text(alphabet="0123456789:- x", max_size=14))
def test_quiet_hours_parse_or_say_why(text: str) -> None:
    try:
        start, end = parse_quiet_hours(text)
    except InvalidSubscriptionError as exc:
        assert exc.field and exc.field.startswith("quiet_hours")
        return
    for clock in (start, end):
        hours, minutes = clock.split(":")
        assert len(clock) == 5 and 0 <= int(hours) < 24 and 0 <= int(minutes) < 60


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--slack", "https://hooks.example.org/T/B/X"], {"channel": "slack"}),
        (["--email", "a@example.org", "--email", "b@example.org", "--subject-prefix", "[x]"],
         {"channel": "email"}),
        (["--stream"], {"channel": "stream"}),
        (["--console", "--rate-limit-per-hour", "12"], {"rate_limit_per_hour": 12}),
        (["--console", "--digest-every-alerts", "5", "--digest-every-seconds", "600"], {"digest": (5, 600)}),
        (["--console", "--quiet-hours", "22:00-07:00", "--timezone", "Europe/Paris"],
         {"quiet_hours": ("22:00", "07:00", "Europe/Paris")}),
        (["--console", "--owner-email", "Lead@Example.org"], {"owner_email": "Lead@example.org"}),
    ],
)  # fmt: skip
def test_cli_flags_build_the_subscription(argv: list[str], expected: dict[str, Any]) -> None:
    args = build_parser().parse_args(["subscriptions", "add", "--name", "n", *argv])
    sub = normalised(_subscription_from_args(args, Settings()), allow_private=False)
    for key, value in expected.items():
        if key == "channel":
            assert sub.WhichOneof("channel") == value
        elif key == "digest":
            assert (sub.digest.every_alerts, sub.digest.every_seconds) == value
        elif key == "quiet_hours":
            assert (sub.quiet_hours.start, sub.quiet_hours.end, sub.quiet_hours.timezone) == value
        else:
            assert getattr(sub, key) == value
    if sub.HasField("email"):
        assert list(sub.email.to) == ["a@example.org", "b@example.org"] and sub.email.subject_prefix == "[x]"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--console", "--quiet-hours", "22-07"], "HH:MM"),
        (["--console", "--quiet-hours", "late"], "START-END"),
        (["--console", "--timezone", "Europe/Paris"], "--quiet-hours"),
        (["--console", "--quiet-hours", "22:00-07:00", "--timezone", "Nowhere/City"], "IANA"),
        (["--console", "--digest-every-alerts", "1"], "2-1000"),
        (["--email", "not-an-address"], "email address"),
    ],
)
def test_cli_flags_refused_with_a_clear_message(argv: list[str], message: str) -> None:
    args = build_parser().parse_args(["subscriptions", "add", "--name", "n", *argv])
    with pytest.raises(InvalidSubscriptionError, match=message):
        normalised(_subscription_from_args(args, Settings()), allow_private=False)


def test_cli_channels_are_mutually_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(
            ["subscriptions", "add", "--name", "n", "--stream", "--email", "a@example.org"]
        )
    assert "not allowed with" in capsys.readouterr().err
