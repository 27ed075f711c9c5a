"""Jute: ZooKeeper's record serialization (zookeeper.jute), as a compiled codec."""

from . import records
from .codec import JuteError, record

__all__ = ["JuteError", "record", "records"]
