"""Durable storage in ZooKeeper's on-disk format: txn log, snapshots, restore, purge."""
