"""Prestacop's schema package: the one contract between services.

Event models (:mod:`prestacop_shared.events`, :mod:`prestacop_shared.tickets`), the topic
catalogue (:mod:`prestacop_shared.topics`: names, keys, partitions, retention, cleanup) and its
creation on a cluster (:mod:`prestacop_shared.topic_admin`, needs the ``kafka`` extra), the
dataset catalogue (:mod:`prestacop_shared.datasets`: stored folders, partition rules,
quarantine, dead letters), Kafka settings (:mod:`prestacop_shared.kafka`), JSON
(de)serialisation (:mod:`prestacop_shared.serde`), Spark schemas derived from the models
(:mod:`prestacop_shared.spark`, needs the ``spark`` extra), every service's ``/healthz`` and
``/metrics`` (:mod:`prestacop_shared.service_http`, needs the ``http`` extra) and the DOF
violation-code table (:mod:`prestacop_shared.violation_codes`).
"""

__version__ = "0.1.0"
