#!/bin/bash
# Run one Kafka tool class on the broker's classpath, logging warnings to stderr.
exec java ${KAFKA_TOOLS_HEAP_OPTS:--Xmx256m} -XX:TieredStopAtLevel=1 -Xshare:auto \
  -Dlog4j2.configurationFile=/etc/kafka/docker/tools-log4j2.yaml -cp "/opt/kafka/libs/*" "$@"
