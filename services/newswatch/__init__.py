"""newswatch — streaming news monitoring on Apache Kafka.

Subpackages: ``poller`` (feeds → raw articles), ``processor`` (raw → enriched articles and alerts),
``alerter`` (alerts → subscribers), ``v1`` (generated protobuf contracts).
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
