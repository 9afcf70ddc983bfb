"""JSON on the wire: bytes in, bytes out, validated by the shared models.

Example:
    >>> from prestacop_shared.events import Alert, AlertReason
    >>> alert = Alert(drone_id="d-1", latitude=40.7, longitude=-73.9, image_id="img-1",
    ...               reason=AlertReason.PLATE_UNREADABLE)
    >>> decode(Alert, encode(alert)) == alert
    True
    >>> decode(Alert, b"not json")
    Traceback (most recent call last):
    ...
    prestacop_shared.exceptions.DeserializationError: Alert: invalid JSON: ...
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from prestacop_shared.exceptions import DeserializationError

ModelT = TypeVar("ModelT", bound=BaseModel)


def encode(event: BaseModel) -> bytes:
    """Serialise a model to UTF-8 JSON bytes."""
    return event.model_dump_json().encode("utf-8")


def decode(model: type[ModelT], data: bytes | None) -> ModelT:
    """Parse and validate JSON bytes as ``model``.

    Raises:
        DeserializationError: empty value, bytes that are not JSON, or JSON that violates the
            model; ``reason`` says which field and why.
    """
    if not data:
        raise DeserializationError(f"{model.__name__}: empty message value", data or b"")
    try:
        return model.model_validate_json(data)
    except ValidationError as error:
        raise DeserializationError(_describe(model, error), data) from error


def _describe(model: type[BaseModel], error: ValidationError) -> str:
    problems = error.errors(include_url=False, include_input=False)
    if problems and problems[0]["type"] == "json_invalid":
        return f"{model.__name__}: invalid JSON: {problems[0]['msg']}"
    details = "; ".join(
        f"{'.'.join(str(p) for p in problem['loc']) or '<root>'}: {problem['msg']}"
        for problem in problems[:5]
    )
    more = f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
    return f"{model.__name__}: schema violation: {details}{more}"
