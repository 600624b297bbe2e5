"""The local real stack: Kafka (KRaft, from Maven jars) and Prometheus as local processes."""
