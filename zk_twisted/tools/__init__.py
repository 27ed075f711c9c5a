"""Command-line tools for data directories (``python -m zk_twisted.tools ...``).

``snapshot FILE`` and ``txnlog FILE`` print what ZooKeeper 3.8's SnapshotFormatter and
TxnLogToolkit print for the same file (``--json`` for a machine-readable dump instead);
``purge DATADIR [DATALOGDIR] -n COUNT`` is PurgeTxnLog.
"""
