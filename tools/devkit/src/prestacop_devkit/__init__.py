"""Developers' tooling: Kafka and Spark connector jars from Maven Central, a local KRaft broker,
Kafka's perf tools. See ``prestacop-devkit --help``."""

from prestacop_devkit.broker import LocalKafka, free_port
from prestacop_devkit.exceptions import (
    BrokerAlreadyRunning,
    BrokerError,
    BrokerStartError,
    DevkitError,
    JarFetchError,
    JarsNotFetchedError,
    JavaNotFoundError,
    MavenNotFoundError,
    PerfToolError,
)
from prestacop_devkit.jars import (
    cache_dir,
    ensure_kafka_jars,
    ensure_spark_kafka_jars,
    kafka_classpath,
    spark_kafka_jars_csv,
)
from prestacop_devkit.perf import (
    ConsumerPerfResult,
    PerfResult,
    consumer_perf_test,
    producer_perf_test,
)

__all__ = [
    "BrokerAlreadyRunning",
    "BrokerError",
    "BrokerStartError",
    "ConsumerPerfResult",
    "DevkitError",
    "JarFetchError",
    "JarsNotFetchedError",
    "JavaNotFoundError",
    "LocalKafka",
    "MavenNotFoundError",
    "PerfResult",
    "PerfToolError",
    "cache_dir",
    "consumer_perf_test",
    "ensure_kafka_jars",
    "ensure_spark_kafka_jars",
    "free_port",
    "kafka_classpath",
    "producer_perf_test",
    "spark_kafka_jars_csv",
]
