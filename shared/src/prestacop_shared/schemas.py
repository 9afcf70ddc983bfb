"""JSON Schemas of every wire model, generated from the models and committed in ``shared/schemas``.

Regenerate after changing a model with ``python -m prestacop_shared.schemas shared/schemas``;
a test fails while a committed file differs from what the models produce.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from prestacop_shared.events import Alert, AlertResolution, DeadLetter, DroneStatus, Violation
from prestacop_shared.tickets import HistoricalTicket

WIRE_MODELS: dict[str, type[BaseModel]] = {
    "drone_status": DroneStatus,
    "violation": Violation,
    "alert": Alert,
    "alert_resolution": AlertResolution,
    "historical_ticket": HistoricalTicket,
    "dead_letter": DeadLetter,
}
"""Every model that travels on a topic, by schema file name."""


def render_json_schema(model: type[BaseModel]) -> str:
    """The model's JSON Schema (validation mode), as stable, sorted, indented text."""
    schema = model.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_json_schemas(folder: Path) -> list[Path]:
    """Write one ``<name>.schema.json`` per wire model into ``folder``; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in WIRE_MODELS.items():
        path = folder / f"{name}.schema.json"
        path.write_text(render_json_schema(model), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("shared/schemas")
    for written_path in write_json_schemas(target):
        sys.stdout.write(f"{written_path}\n")
