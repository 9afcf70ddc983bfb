"""One logging setup for every entrypoint: stdlib loggers, rendered by structlog.

Modules log with ``logging.getLogger(__name__)`` and pass context as ``extra``
(``logger.info("sent", extra={"topic": t, "offset": o})``). On a terminal the lines are
coloured key/value pairs; elsewhere (containers, CI, files) they are JSON lines.
"""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(level: str = "INFO", *, json: bool | None = None) -> None:
    """Route every stdlib logger through structlog's formatter.

    Args:
        level: root level name (``DEBUG``, ``INFO``...).
        json: force JSON lines (True) or console rendering (False); default: JSON unless stderr
            is a terminal.
    """
    use_json = not sys.stderr.isatty() if json is None else json
    shared: list[structlog.types.Processor] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if use_json else _identity,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("py4j", "httpx", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _identity(
    _logger: object, _name: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    return event_dict
