"""prestacop-drone: many simulated police drones per process, streaming to Kafka."""
