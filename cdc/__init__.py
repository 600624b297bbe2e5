"""The Debezium CDC pipeline: PostgreSQL -> Debezium on Kafka Connect -> Kafka.

``pipeline`` brings the CDC part up on top of a running Kafka, ``changes``
drives committed changes into the database and keeps a ledger of them,
``change_checker`` proves each one reached its topic, ``snapshot`` and
``restart`` are the ``cdc-snapshot`` profile and the ``connector-restart``
scenario.
"""
