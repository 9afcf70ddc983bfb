"""Entrypoint: ``prestacop-alert-mailer`` / ``python -m prestacop_alert_mailer``.

Configuration comes from the environment (``MAILER_*`` and ``KAFKA_*``, see
:mod:`prestacop_alert_mailer.config`); the process consumes ``drone.alerts``, mails each alert
once and serves the operator API until SIGTERM/SIGINT.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from prestacop_alert_mailer.config import MailerSettings
from prestacop_alert_mailer.exceptions import StateError
from prestacop_shared.config import load_settings
from prestacop_shared.exceptions import ConfigError
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.logs import configure_logging

logger = logging.getLogger(__name__)

cli = typer.Typer(add_completion=False, help=__doc__)


@cli.command()
def run(
    check_config: Annotated[
        bool, typer.Option("--check-config", help="Validate the settings, print them, exit.")
    ] = False,
) -> None:
    """Mail every drone alert once and serve the operator API."""
    try:
        settings = load_settings(MailerSettings)
        kafka = load_settings(KafkaSettings)
    except ConfigError as error:
        typer.echo(f"prestacop-alert-mailer: {error}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level)
    if check_config:
        shown = settings.model_dump(exclude={"smtp_password", "operator_token", "read_token"})
        for name, value in shown.items():
            typer.echo(f"MAILER_{name.upper()}={value}")
        typer.echo(f"KAFKA_BOOTSTRAP_SERVERS={kafka.bootstrap_servers}")
        return

    from prestacop_alert_mailer.service import MailerService

    try:
        service = MailerService(settings, kafka)
    except StateError as error:
        logger.error("cannot start", extra={"error": str(error)})
        raise typer.Exit(1) from None
    service.run()


def main() -> None:
    """Run the command-line interface."""
    cli()


if __name__ == "__main__":
    main()
