"""Every ``NEWSWATCH_*`` setting, declared once: name, default, type, unit and validation.

Sources, later ones winning: the defaults below, an optional YAML file (``NEWSWATCH_CONFIG_FILE`` or
``--config``; keys are the field names, e.g. ``kafka_bootstrap:``), then environment variables
``NEWSWATCH_<FIELD_NAME_UPPER>``. A bad value raises :class:`~newswatch.errors.SettingsError` naming
the environment variable; the CLI turns it into exit code 2.

Domain code receives a :class:`Settings` instance; nothing reads the environment elsewhere.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from newswatch.errors import SettingsError

__all__ = ["ENV_PREFIX", "Settings", "describe", "env_name", "is_secret", "load_settings"]

ENV_PREFIX = "NEWSWATCH_"
_HOSTPORT = re.compile(r"^[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$")

Validator = Callable[[Any], str | None]


def _help(text: str, check: Validator | None = None) -> dict[str, Any]:
    return {"help": text, "check": check}


def _range(low: float, high: float) -> Validator:
    def check(value: Any) -> str | None:
        return None if low <= value <= high else f"must be between {low:g} and {high:g}, got {value!r}"

    return check


def _one_of(*choices: str) -> Validator:
    def check(value: Any) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}, got {value!r}"

    return check


def _bootstrap(value: Any) -> str | None:
    parts = [p.strip() for p in str(value).split(",") if p.strip()]
    if not parts:
        return "must list at least one host:port"
    bad = [p for p in parts if not _HOSTPORT.match(p) or not 0 < int(p.rsplit(":", 1)[1]) < 65536]
    return f"not host:port: {', '.join(bad)}" if bad else None


def _pattern(regex: str) -> Validator:
    compiled = re.compile(regex)

    def check(value: Any) -> str | None:
        return None if compiled.match(str(value)) else f"must match {regex}, got {value!r}"

    return check


def _port(value: Any) -> str | None:
    return None if 0 <= value < 65536 else f"must be a TCP port (0-65535), got {value!r}"


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$")
_UNIT_SECONDS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_durations(text: str) -> list[float]:
    """``"5s,30s,2m,1h"`` -> ``[5.0, 30.0, 120.0, 3600.0]``. Raises ValueError on a bad item."""
    out: list[float] = []
    for item in text.split(","):
        match = _DURATION.match(item)
        if match is None:
            raise ValueError(f"bad duration {item.strip()!r} (expected e.g. 30s, 5m, 2h)")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        if not 0 < seconds <= 7 * 86400:
            raise ValueError(f"duration {item.strip()!r} must be above 0 and at most 7 days")
        out.append(seconds)
    return out


def _durations(value: Any) -> str | None:
    try:
        delays = parse_durations(str(value))
    except ValueError as exc:
        return f"must be a comma-separated list of durations: {exc}"
    if len(delays) > 50:
        return f"at most 50 retries, got {len(delays)}"
    return None


def _token(value: Any) -> str | None:
    # The value is a secret: the message never quotes it.
    text = str(value)
    if text and (len(text) < 16 or not text.isascii() or not text.isprintable() or " " in text):
        return "must be empty (API off) or at least 16 printable ASCII characters without spaces"
    return None


@dataclass(frozen=True, slots=True)
class Settings:
    """The service's configuration. Build it with :func:`load_settings`."""

    # Kafka
    kafka_bootstrap: str = field(
        default="127.0.0.1:9092", metadata=_help("Kafka bootstrap servers, comma-separated", _bootstrap)
    )
    kafka_client_id: str = field(default="newswatch", metadata=_help("client.id prefix sent to Kafka"))
    topic_partitions: int = field(
        default=6, metadata=_help("partitions of topics created at start-up", _range(1, 1000))
    )
    topic_replication_factor: int = field(
        default=1, metadata=_help("replication factor of topics created at start-up", _range(1, 10))
    )
    # Observability
    log_format: str = field(default="text", metadata=_help("log format", _one_of("text", "json")))
    log_level: str = field(
        default="INFO", metadata=_help("log level", _one_of("DEBUG", "INFO", "WARNING", "ERROR"))
    )
    metrics_host: str = field(default="127.0.0.1", metadata=_help("address the /metrics endpoints bind"))
    poller_metrics_port: int = field(default=9101, metadata=_help("poller /metrics port", _port))
    processor_metrics_port: int = field(default=9102, metadata=_help("processor /metrics port", _port))
    alerter_metrics_port: int = field(default=9103, metadata=_help("alerter /metrics port", _port))
    api_host: str = field(default="127.0.0.1", metadata=_help("address of the alerter HTTP API"))
    api_port: int = field(default=8080, metadata=_help("alerter HTTP API and console port", _port))
    api_token: str = field(
        default="",
        repr=False,
        metadata={
            **_help(
                "bearer token the alerter HTTP API requires (Authorization: Bearer <token>), at least 16 "
                "characters; empty = the API answers every request but /openapi.json with 503",
                _token,
            ),
            "secret": True,
        },
    )
    # Lifecycle and state
    data_dir: Path = field(default=Path(".data"), metadata=_help("local state (processor tables)"))
    shutdown_deadline_seconds: float = field(
        default=20.0, metadata=_help("drain deadline on SIGTERM", _range(0.1, 600))
    )
    # Poller
    poll_interval_seconds: float = field(
        default=300.0, metadata=_help("default time between two checks of a feed", _range(1, 86400))
    )
    poll_interval_min_seconds: float = field(
        default=60.0,
        metadata=_help(
            "shortest interval a feed's own hints (TTL, Cache-Control, frequency) may ask for",
            _range(1, 86400),
        ),
    )
    poll_interval_max_seconds: float = field(
        default=21600.0,
        metadata=_help("longest interval between two checks of a healthy feed", _range(1, 604800)),
    )
    poller_group_id: str = field(
        default="newswatch-poller",
        metadata=_help(
            "consumer group of the pollers on newswatch.feeds.v1 (feeds are shared by partition)",
            _pattern(r"^[A-Za-z0-9._-]+$"),
        ),
    )
    fetch_timeout_seconds: float = field(
        default=30.0, metadata=_help("total time allowed for one feed fetch", _range(0.1, 600))
    )
    fetch_connect_timeout_seconds: float = field(
        default=10.0, metadata=_help("TCP + TLS connect timeout", _range(0.1, 120))
    )
    fetch_max_body_bytes: int = field(
        default=10 * 1024 * 1024,
        metadata=_help("cap on a feed body after decompression", _range(1024, 1024**3)),
    )
    fetch_concurrency: int = field(
        default=32, metadata=_help("feeds fetched at once by one poller", _range(1, 10000))
    )
    fetch_max_connections_per_host: int = field(
        default=4, metadata=_help("connections open to one feed host at once", _range(1, 100))
    )
    fetch_host_min_interval_seconds: float = field(
        default=1.0,
        metadata=_help(
            "least time between two requests to one host (host:port); 0 = no pacing", _range(0, 3600)
        ),
    )
    poll_backoff_initial_seconds: float = field(
        default=60.0,
        metadata=_help(
            "first retry delay after a failed feed check (doubles each failure)", _range(1, 86400)
        ),
    )
    poll_backoff_max_seconds: float = field(
        default=3600.0,
        metadata=_help(
            "largest delay between checks of a failing feed (feeds are never dropped)", _range(1, 604800)
        ),
    )
    fetch_max_redirects: int = field(default=5, metadata=_help("redirects followed", _range(0, 20)))
    allow_private_networks: bool = field(
        default=False,
        metadata=_help("allow feeds and webhooks on private, loopback and link-local addresses"),
    )
    contact_url: str = field(
        default="https://github.com/newswatch/newswatch",
        metadata=_help("contact URL sent in the User-Agent header"),
    )
    fulltext_max_pages_per_check: int = field(
        default=20,
        metadata=_help(
            "article pages fetched for full text in one check of a full-text feed (newest entries first; "
            "the others keep the feed's summary)",
            _range(0, 10000),
        ),
    )
    websub_callback_url: str = field(
        default="",
        metadata=_help(
            "public http(s) base URL at which WebSub hubs reach the poller's callback endpoint (served "
            "at /websub/<feed_id> on NEWSWATCH_WEBSUB_PORT); empty = WebSub off, feeds are only polled",
            _pattern(r"^(https?://\S+)?$"),
        ),
    )
    websub_host: str = field(
        default="127.0.0.1", metadata=_help("address the WebSub callback endpoint binds")
    )
    websub_port: int = field(default=9111, metadata=_help("WebSub callback endpoint port", _port))
    websub_secret: str = field(
        default="",
        repr=False,
        metadata={
            **_help(
                "secret from which each hub subscription's hub.secret is derived; pollers sharing one "
                "callback URL need the same value (empty = a random one per process)"
            ),
            "secret": True,
        },
    )
    websub_lease_seconds: int = field(
        default=864000,
        metadata=_help("lease asked of WebSub hubs (renewed before it ends)", _range(300, 31536000)),
    )
    # Processor
    processor_group_id: str = field(
        default="newswatch-processor",
        metadata=_help(
            "Faust app id of the processor (consumer group and changelog-topic prefix)",
            _pattern(r"^[A-Za-z0-9._-]+$"),
        ),
    )
    processor_batch_max_articles: int = field(
        default=200, metadata=_help("raw articles the processor handles per batch", _range(1, 10000))
    )
    processor_batch_max_wait_seconds: float = field(
        default=0.02,
        metadata=_help("longest wait to fill a processor batch before handling it", _range(0.0, 5.0)),
    )
    processor_enrich_processes: int = field(
        default=0,
        metadata=_help(
            "processes forked per processor worker to enrich batches beside it (0 = the worker alone)",
            _range(0, 64),
        ),
    )
    processor_seen_max_articles: int = field(
        default=500_000,
        metadata=_help(
            "article ids remembered per worker to drop re-published raw articles (oldest forgotten first)",
            _range(1000, 100_000_000),
        ),
    )
    neardup_window_seconds: float = field(
        default=604800.0,
        metadata=_help(
            "how long an article can be the original of a near-duplicate", _range(3600, 90 * 86400)
        ),
    )
    neardup_max_articles: int = field(
        default=100_000,
        metadata=_help(
            "articles kept in the near-duplicate index (oldest dropped first)", _range(1000, 10_000_000)
        ),
    )
    regions_file: str = field(
        default="",
        metadata=_help("YAML table country -> regions replacing the packaged one; empty = packaged table"),
    )
    # Alerter
    alerter_group_id: str = field(
        default="newswatch-alerter",
        metadata=_help(
            "consumer group of the alerters on newswatch.alerts.v1 (also names their retry-schedule "
            "group); a new group starts at the oldest retained alert",
            _pattern(r"^[A-Za-z0-9._-]+$"),
        ),
    )
    webhook_timeout_seconds: float = field(
        default=10.0, metadata=_help("total time allowed for one webhook delivery", _range(0.1, 300))
    )
    delivery_concurrency: int = field(
        default=64, metadata=_help("deliveries in flight at once", _range(1, 10000))
    )
    delivery_retry_schedule: str = field(
        default="5s,30s,2m,10m,30m,1h,2h,4h",
        metadata=_help(
            "delays before each retry of a failed delivery (s, m, h suffixes; jitter is added); retries are "
            "kept in Kafka, and after the last one the alert goes to newswatch.alerts.dlq.v1",
            _durations,
        ),
    )
    endpoint_disable_after_seconds: float = field(
        default=86400.0,
        metadata=_help(
            "an endpoint failing every delivery for this long is disabled and its owner told",
            _range(60, 30 * 86400),
        ),
    )
    smtp_host: str = field(default="", metadata=_help("SMTP server for email channels; empty = email off"))
    smtp_port: int = field(default=587, metadata=_help("SMTP server port", _port))
    smtp_security: str = field(
        default="starttls",
        metadata=_help("SMTP transport security", _one_of("starttls", "tls", "none")),
    )
    smtp_username: str = field(default="", metadata=_help("SMTP login; empty = no authentication"))
    smtp_password: str = field(default="", repr=False, metadata={**_help("SMTP password"), "secret": True})
    smtp_from: str = field(
        default="newswatch@localhost", metadata=_help("From address of alert and notice emails")
    )
    smtp_timeout_seconds: float = field(
        default=30.0, metadata=_help("total time allowed for one SMTP delivery", _range(0.1, 300))
    )
    sse_max_clients: int = field(
        default=100, metadata=_help("concurrent Server-Sent Events streams served", _range(1, 10000))
    )
    sse_keepalive_seconds: float = field(
        default=15.0, metadata=_help("comment line sent on an idle event stream", _range(1, 300))
    )

    @property
    def bootstrap_servers(self) -> list[str]:
        return [p.strip() for p in self.kafka_bootstrap.split(",") if p.strip()]

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied and validated."""
        merged = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        merged.update(changes)
        return _build(merged, source=lambda name: name)


def env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def is_secret(field_name: str) -> bool:
    """True for settings whose value is never printed or logged."""
    return any(f.name == field_name and f.metadata.get("secret") for f in dataclasses.fields(Settings))


def describe() -> list[tuple[str, str, str]]:
    """(environment variable, default, help) for every setting, for ``--help`` and the README."""
    return [
        (env_name(f.name), str(f.default), str(f.metadata.get("help", "")))
        for f in dataclasses.fields(Settings)
    ]


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _convert(kind: Any, raw: Any) -> Any:
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"must be true or false, got {raw!r}")
    if kind is int:
        if isinstance(raw, bool):
            raise ValueError(f"must be a whole number, got {raw!r}")
        try:
            return int(str(raw).strip())
        except ValueError:
            raise ValueError(f"must be a whole number, got {raw!r}") from None
    if kind is float:
        if isinstance(raw, bool):
            raise ValueError(f"must be a number, got {raw!r}")
        try:
            return float(str(raw).strip())
        except ValueError:
            raise ValueError(f"must be a number, got {raw!r}") from None
    if kind is Path:
        return Path(str(raw))
    return str(raw).strip()


def _build(values: Mapping[str, Any], source: Callable[[str], str]) -> Settings:
    hints = get_type_hints(Settings)
    converted: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        if f.name not in values:
            continue
        try:
            value = _convert(hints[f.name], values[f.name])
        except ValueError as exc:
            raise SettingsError(source(f.name), str(exc)) from None
        check: Validator | None = f.metadata.get("check")
        problem = check(value) if check else None
        if problem:
            raise SettingsError(source(f.name), problem)
        converted[f.name] = value
    return Settings(**converted)


def load_settings(
    environ: Mapping[str, str] | None = None, config_file: str | Path | None = None
) -> Settings:
    """Defaults, then the YAML file, then ``NEWSWATCH_*`` variables. Raises SettingsError."""
    env = os.environ if environ is None else environ
    known = {f.name for f in dataclasses.fields(Settings)}
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}

    path = config_file or env.get(ENV_PREFIX + "CONFIG_FILE")
    if path:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise SettingsError(ENV_PREFIX + "CONFIG_FILE", f"cannot read {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise SettingsError(ENV_PREFIX + "CONFIG_FILE", f"{path} is not valid YAML: {exc}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise SettingsError(ENV_PREFIX + "CONFIG_FILE", f"{path} must hold a mapping of settings")
        for key, value in loaded.items():
            if key not in known:
                raise SettingsError(ENV_PREFIX + "CONFIG_FILE", f"{path}: unknown setting {key!r}")
            values[key] = value
            origin[key] = f"{key} in {path}"

    for name in known:
        var = env_name(name)
        if var in env:
            values[name] = env[var]
            origin[name] = var

    unknown = sorted(k for k in env if k.startswith(ENV_PREFIX) and k[len(ENV_PREFIX) :].lower() not in known)
    unknown = [k for k in unknown if k != ENV_PREFIX + "CONFIG_FILE"]
    if unknown:
        raise SettingsError(unknown[0], "unknown setting (see `newswatch settings`)")
    return _build(values, source=lambda name: origin.get(name, env_name(name)))
