"""Checks a parsed message must pass to be stored, derived from its pydantic model.

Spark's ``from_json`` already refuses what is not JSON and values of the wrong type; these rules
add what the model forbids and what Spark SQL checks cheaply: required fields present, numeric
bounds (``ge``/``gt``/``le``/``lt``), string lengths, enum and literal values (so
``schema_version`` must be 1), and finite floats: Spark's JSON parser reads ``NaN`` and
``Infinity`` (bare or quoted) into a double, and a bound does not catch them all (in Spark SQL
``NaN`` is above every number, so ``NaN >= 0`` holds), while JSON itself has no such values. Fields the model fills by a plain default are filled the same way
when missing; fields made by a default factory (``event_id``, ``emitted_at``) are required on
the wire, since a stored event without them could be neither deduplicated nor dated.

Not checked (costly in Spark SQL, or lax in pydantic): unknown extra keys (ignored, not
stored), whether a timestamp string carries its zone beyond what the timestamp format demands.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined


@dataclass(frozen=True)
class FieldRule:
    """What one field of a message must satisfy; ``None`` means "no such constraint".

    Attributes:
        field: the model field name.
        required: the field must be present (after ``default`` is applied).
        default: value given to the field when the message lacks it.
        lower: inclusive (``lower_inclusive``) or exclusive lower bound.
        upper: inclusive (``upper_inclusive``) or exclusive upper bound.
        min_length: shortest string allowed.
        max_length: longest string allowed.
        allowed: the only values allowed (enum members' values, literal values).
        finite: a float that must be a finite number (not NaN, not ±Infinity).
    """

    field: str
    required: bool
    default: Any = None
    lower: float | None = None
    lower_inclusive: bool = True
    upper: float | None = None
    upper_inclusive: bool = True
    min_length: int | None = None
    max_length: int | None = None
    allowed: tuple[Any, ...] | None = None
    finite: bool = False


def _is_float(annotation: Any) -> bool:
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_is_float(member) for member in get_args(annotation))
    return annotation is float


def _nullable(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation)


def _allowed_values(annotation: Any) -> tuple[Any, ...] | None:
    if get_origin(annotation) in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        return _allowed_values(members[0]) if len(members) == 1 else None
    if get_origin(annotation) is Literal:
        return get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return tuple(member.value for member in annotation)
    return None


def _default(info: FieldInfo) -> Any:
    if info.default is PydanticUndefined or info.default is None:
        return None
    return info.default.value if isinstance(info.default, Enum) else info.default


def field_rule(name: str, info: FieldInfo) -> FieldRule:
    """Derive the rule of one model field from its annotation, default and constraints."""
    values: dict[str, Any] = {
        "field": name,
        "required": not _nullable(info.annotation),
        "default": _default(info),
        "allowed": _allowed_values(info.annotation),
        "finite": _is_float(info.annotation),
    }
    for constraint in info.metadata:
        if isinstance(constraint, annotated_types.Ge):
            values.update(lower=constraint.ge, lower_inclusive=True)
        elif isinstance(constraint, annotated_types.Gt):
            values.update(lower=constraint.gt, lower_inclusive=False)
        elif isinstance(constraint, annotated_types.Le):
            values.update(upper=constraint.le, upper_inclusive=True)
        elif isinstance(constraint, annotated_types.Lt):
            values.update(upper=constraint.lt, upper_inclusive=False)
        elif isinstance(constraint, annotated_types.MinLen):
            values["min_length"] = constraint.min_length
        elif isinstance(constraint, annotated_types.MaxLen):
            values["max_length"] = constraint.max_length
    return FieldRule(**values)


def model_rules(model: type[BaseModel]) -> tuple[FieldRule, ...]:
    """The rules of every field of ``model``, in declaration order.

    Example:
        >>> from prestacop_shared.events import DroneStatus
        >>> rule = {r.field: r for r in model_rules(DroneStatus)}["battery_pct"]
        >>> rule.required, rule.lower, rule.upper
        (True, 0.0, 100.0)
    """
    return tuple(field_rule(name, info) for name, info in model.model_fields.items())
