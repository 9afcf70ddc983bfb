"""``prestacop-drone``: simulate police drones and stream their events to Kafka.

Every flag has an environment variable (``DRONE_*``, shown in ``--help``); flags win. The broker
comes from ``KAFKA_BOOTSTRAP_SERVERS`` (and the other ``KAFKA_*`` settings). At the end one JSON
line summarises the run on stdout; the exit code is 0 when every event was acknowledged.

SIGTERM/SIGINT stop producing at once (even while the broker is away and the local queue is
full), wait up to ``DRONE_SHUTDOWN_FLUSH_S`` (5 s) for acknowledgements, then give up on the
rest: one error log line and the summary's ``failed`` / ``undelivered_total`` count them, and
the exit code is 1.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Annotated, Any

import typer

from prestacop_drone.config import DroneSettings
from prestacop_drone.exceptions import DroneError
from prestacop_drone.runner import StopFlag, run
from prestacop_shared.config import load_settings
from prestacop_shared.exceptions import ConfigError
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.logs import configure_logging

logger = logging.getLogger(__name__)

app = typer.Typer(add_completion=False, help=__doc__, rich_markup_mode=None)

EXIT_UNDELIVERED = 1
"""Some events were not acknowledged (counted in the summary's ``failed``, ``undelivered_total``)."""
EXIT_CANNOT_START = 2
"""Bad configuration, or the HTTP port could not be bound."""


def _opt(flag: str, env: str, text: str) -> Any:
    return typer.Option(flag, help=f"{text} [env: {env}]", show_default=False)


@app.command()
def simulate(
    drones: Annotated[
        int | None, _opt("--drones", "DRONE_COUNT", "Drones in this process (5)")
    ] = None,
    interval_s: Annotated[
        float | None, _opt("--interval-s", "DRONE_INTERVAL_S", "Seconds between statuses (1)")
    ] = None,
    violation_probability: Annotated[
        float | None,
        _opt(
            "--violation-probability",
            "DRONE_VIOLATION_PROBABILITY",
            "Offence chance per patrolling status (0.05)",
        ),
    ] = None,
    alert_probability: Annotated[
        float | None,
        _opt(
            "--alert-probability",
            "DRONE_ALERT_PROBABILITY",
            "Chance an offence is an alert instead (0.01)",
        ),
    ] = None,
    seed: Annotated[
        int | None, _opt("--seed", "DRONE_SEED", "Same seed, same events (random)")
    ] = None,
    duration_s: Annotated[
        float | None, _opt("--duration-s", "DRONE_DURATION_S", "Stop after this many seconds")
    ] = None,
    max_messages: Annotated[
        int | None, _opt("--max-messages", "DRONE_MAX_MESSAGES", "Stop after this many events")
    ] = None,
    fleet: Annotated[str | None, _opt("--fleet", "DRONE_FLEET", "Drone id prefix (nypd)")] = None,
    host: Annotated[
        str | None, _opt("--host", "DRONE_HOST", "Host part of drone ids (the host name)")
    ] = None,
    drone_ids: Annotated[
        str | None, _opt("--drone-ids", "DRONE_IDS", "Explicit comma-separated drone ids")
    ] = None,
    http_port: Annotated[
        int | None,
        _opt("--http-port", "DRONE_HTTP_PORT", "/healthz and /metrics port, 0 = off (0)"),
    ] = None,
    log_level: Annotated[
        str | None, _opt("--log-level", "DRONE_LOG_LEVEL", "Log level (INFO)")
    ] = None,
) -> None:
    """Fly the drones until the duration, the message budget or SIGTERM/SIGINT; then flush."""
    flags = {
        "count": drones,
        "interval_s": interval_s,
        "violation_probability": violation_probability,
        "alert_probability": alert_probability,
        "seed": seed,
        "duration_s": duration_s,
        "max_messages": max_messages,
        "fleet": fleet,
        "host": host,
        "ids": drone_ids,
        "http_port": http_port,
        "log_level": log_level,
    }
    try:
        settings = load_settings(DroneSettings, **{k: v for k, v in flags.items() if v is not None})
        kafka = load_settings(KafkaSettings)
    except ConfigError as error:
        sys.stderr.write(f"prestacop-drone: {error}\n")
        raise typer.Exit(EXIT_CANNOT_START) from None
    configure_logging(settings.log_level)
    stop = StopFlag()
    stop.install_signal_handlers()
    try:
        summary = run(settings, kafka, stop=stop)
    except DroneError as error:
        logger.error("drone service failed", extra={"error": str(error)})
        sys.stderr.write(f"prestacop-drone: {error}\n")
        raise typer.Exit(EXIT_CANNOT_START) from None
    typer.echo(json.dumps(summary.as_dict(), sort_keys=True))
    if not summary.ok:
        raise typer.Exit(EXIT_UNDELIVERED)


def main() -> None:
    """Console script entry point."""
    app()


if __name__ == "__main__":
    main()
