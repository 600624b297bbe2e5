#!/usr/bin/env bash
# Run a Kafka tool class (e.g. org.apache.kafka.tools.ProducerPerformance) on the broker's classpath.
exec java ${KAFKA_HEAP_OPTS:--Xmx256m} -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties \
  -cp "/opt/kafka/libs/*" "$@"
