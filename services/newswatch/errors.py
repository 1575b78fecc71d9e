"""Errors that say whether trying again can help.

::

    NewswatchError (retriable: bool)
    ├── SettingsError          a setting is missing or invalid — fix the configuration (exit code 2)
    ├── InvalidMessageError    a Kafka message cannot be decoded — goes to a dead-letter topic
    ├── FeedError              a feed could not be fetched or parsed
    │   ├── FetchError         network, timeout, HTTP status (retriable unless the status is final)
    │   └── ParseError         the body is not a feed, is empty or is hostile (not retriable)
    ├── UnsafeURLError         a URL that newswatch refuses to contact (not retriable)
    └── DeliveryError          a subscriber did not accept an alert (retriable unless 4xx)

Retry loops branch on ``error.retriable``, never on lists of exception classes.
"""

from __future__ import annotations

__all__ = [
    "DeliveryError",
    "FeedError",
    "FetchError",
    "InvalidMessageError",
    "NewswatchError",
    "ParseError",
    "SettingsError",
    "UnsafeURLError",
]


class NewswatchError(Exception):
    """Base of every error newswatch raises on purpose."""

    retriable: bool = False

    def __init__(self, message: str, *, retriable: bool | None = None) -> None:
        super().__init__(message)
        if retriable is not None:
            self.retriable = retriable


class SettingsError(NewswatchError):
    """A setting is invalid. ``name`` is the environment variable that holds it."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name


class InvalidMessageError(NewswatchError):
    """A message on a topic cannot be decoded or is missing required fields."""


class FeedError(NewswatchError):
    """A feed could not be turned into entries. ``outcome`` is a closed metric label."""

    outcome = "error"


class FetchError(FeedError):
    """The feed could not be downloaded."""

    def __init__(
        self, message: str, *, outcome: str, retriable: bool = True, status: int | None = None
    ) -> None:
        super().__init__(message, retriable=retriable)
        self.outcome = outcome
        self.status = status


class ParseError(FeedError):
    """The body is empty, is not a feed, or was refused as hostile."""

    def __init__(self, message: str, *, outcome: str = "parse_error") -> None:
        super().__init__(message, retriable=False)
        self.outcome = outcome


class UnsafeURLError(NewswatchError):
    """A URL that newswatch refuses to contact (scheme, credentials, private address)."""


class DeliveryError(NewswatchError):
    """A channel could not deliver an alert."""

    def __init__(self, message: str, *, retriable: bool, status: int | None = None) -> None:
        super().__init__(message, retriable=retriable)
        self.status = status
