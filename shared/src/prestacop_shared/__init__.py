"""Prestacop's schema package: the one contract between services.

Event models (:mod:`prestacop_shared.events`, :mod:`prestacop_shared.tickets`), topic names
(:mod:`prestacop_shared.topics`), Kafka settings (:mod:`prestacop_shared.kafka`), JSON
(de)serialisation (:mod:`prestacop_shared.serde`), Spark schemas derived from the models
(:mod:`prestacop_shared.spark`, needs the ``spark`` extra) and the DOF violation-code table
(:mod:`prestacop_shared.violation_codes`).
"""

__version__ = "0.1.0"
