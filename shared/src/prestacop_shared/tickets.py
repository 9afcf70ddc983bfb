"""Historical tickets: rows of NYC's "Parking Violations Issued" files, enriched by Prestacop.

The real files come in two header layouts: 51 columns (FY2014-2016) and the first 43 of them
(FY2017). Two header names carry trailing spaces (``Days Parking In Effect    ``,
``Community Council ``). A ticket keeps every source column under a snake_case name: integer
where every real value is a plain integer (``violation_code``, ``street_code1``...), raw text
otherwise (dates such as ``20160288`` or ``0``, times such as ``0143A``, zero-padded locations
such as ``0014`` are real data, kept as written). An empty field is ``None``. The source's own
``Latitude``/``Longitude`` columns (empty in every file seen) become ``source_latitude`` and
``source_longitude``; ``latitude``/``longitude`` are Prestacop's enrichment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, ClassVar, Final

from pydantic import Field

from prestacop_shared.events import Event
from prestacop_shared.exceptions import PrestacopError


class TicketFormatError(PrestacopError):
    """A CSV row or header does not fit the tickets format."""


class UnknownLayoutError(TicketFormatError):
    """A header that is neither of the known layouts: the file is not a tickets file."""


class HistoricalTicket(Event):
    """One parking ticket from the police's history, as stored in ``nypd.tickets``.

    ``event_id`` is ``<source fingerprint>:<line>`` so a re-sent line has the same id;
    ``drone_id`` is the archive drone the ticket is assigned to (deterministic); ``emitted_at``
    is when the ingestor sent it.
    """

    kind: ClassVar[str] = "ticket"

    summons_number: int = Field(ge=0)
    plate_id: str | None = None
    registration_state: str | None = None
    plate_type: str | None = None
    issue_date: str | None = Field(default=None, description="MM/DD/YYYY as written")
    violation_code: int | None = None
    vehicle_body_type: str | None = None
    vehicle_make: str | None = None
    issuing_agency: str | None = None
    street_code1: int | None = None
    street_code2: int | None = None
    street_code3: int | None = None
    vehicle_expiration_date: str | None = Field(default=None, description="YYYYMMDD, 0, 88888888")
    violation_location: str | None = Field(default=None, description="zero-padded below 100")
    violation_precinct: int | None = None
    issuer_precinct: int | None = None
    issuer_code: int | None = None
    issuer_command: str | None = None
    issuer_squad: str | None = None
    violation_time: str | None = Field(default=None, description="HHMMA / HHMMP as written")
    time_first_observed: str | None = None
    violation_county: str | None = None
    violation_in_front_of_or_opposite: str | None = None
    house_number: str | None = None
    street_name: str | None = None
    intersecting_street: str | None = None
    date_first_observed: str | None = None
    law_section: int | None = None
    sub_division: str | None = None
    violation_legal_code: str | None = None
    days_parking_in_effect: str | None = None
    from_hours_in_effect: str | None = None
    to_hours_in_effect: str | None = None
    vehicle_color: str | None = None
    unregistered_vehicle: str | None = None
    vehicle_year: int | None = None
    meter_number: str | None = None
    feet_from_curb: int | None = None
    violation_post_code: str | None = None
    violation_description: str | None = None
    no_standing_or_stopping_violation: str | None = None
    hydrant_violation: str | None = None
    double_parking_violation: str | None = None
    source_latitude: str | None = None
    source_longitude: str | None = None
    community_board: str | None = None
    community_council: str | None = None
    census_tract: str | None = None
    bin: str | None = None
    bbl: str | None = None
    nta: str | None = None
    source_file: str = Field(min_length=1, description="Name of the CSV file the row came from")
    source_line: int = Field(ge=2, description="1-based physical line number in that file")


SOURCE_HEADER: Final[tuple[str, ...]] = (
    "Summons Number", "Plate ID", "Registration State", "Plate Type", "Issue Date",
    "Violation Code", "Vehicle Body Type", "Vehicle Make", "Issuing Agency", "Street Code1",
    "Street Code2", "Street Code3", "Vehicle Expiration Date", "Violation Location",
    "Violation Precinct", "Issuer Precinct", "Issuer Code", "Issuer Command", "Issuer Squad",
    "Violation Time", "Time First Observed", "Violation County",
    "Violation In Front Of Or Opposite", "House Number", "Street Name", "Intersecting Street",
    "Date First Observed", "Law Section", "Sub Division", "Violation Legal Code",
    "Days Parking In Effect    ", "From Hours In Effect", "To Hours In Effect", "Vehicle Color",
    "Unregistered Vehicle?", "Vehicle Year", "Meter Number", "Feet From Curb",
    "Violation Post Code", "Violation Description", "No Standing or Stopping Violation",
    "Hydrant Violation", "Double Parking Violation", "Latitude", "Longitude", "Community Board",
    "Community Council ", "Census Tract", "BIN", "BBL", "NTA",
)  # fmt: skip
"""The FY2014-2016 header, exactly as written in the files (trailing spaces included)."""

_RENAMED: Final[Mapping[str, str]] = {
    "latitude": "source_latitude",
    "longitude": "source_longitude",
}


def normalise_column_name(header_name: str) -> str:
    """Return the ticket field name for a source header name.

    Example:
        >>> normalise_column_name("Days Parking In Effect    ")
        'days_parking_in_effect'
        >>> normalise_column_name("Unregistered Vehicle?")
        'unregistered_vehicle'
        >>> normalise_column_name("Latitude")
        'source_latitude'
    """
    name = re.sub(r"[^0-9a-z]+", "_", header_name.strip().lower()).strip("_")
    return _RENAMED.get(name, name)


SOURCE_FIELDS: Final[tuple[str, ...]] = tuple(normalise_column_name(h) for h in SOURCE_HEADER)
"""Ticket field names of the source columns, in file order."""

ENRICHMENT_FIELDS: Final[tuple[str, ...]] = ("drone_id", "latitude", "longitude")
PROVENANCE_FIELDS: Final[tuple[str, ...]] = ("source_file", "source_line")

INTEGER_FIELDS: Final[frozenset[str]] = frozenset(
    name
    for name in SOURCE_FIELDS
    if HistoricalTicket.model_fields[name].annotation in (int, int | None)
)
"""Source fields typed as integers; every other source field is raw text."""

INTEGER_TEXT_PATTERN: Final[str] = r"-?(?:0|[1-9][0-9]{0,17})"
"""The text an integer field may hold (to be matched whole): a canonical integer (no ``+``, no
leading zero, so ``str(int(text)) == text``) of at most 18 digits (it fits a 64-bit long). The
csv-ingestor's vectorised checks and :func:`parse_source_value` both use it."""

ISSUE_DATE_PATTERN: Final[str] = r"^[0-9]{2}/[0-9]{2}/[12][0-9]{3}$"
"""A ticket's ``issue_date`` as the source writes it: ``MM/DD/YYYY``, year 1000-2999. The one
issue-date rule is this pattern plus "names a real calendar day", in Python (:func:`issue_day_of`,
which analytics applies), polars (:func:`prestacop_shared.ticket_lines.issue_day_expr`) and Spark
(:func:`prestacop_shared.spark.issue_day`); a test proves they agree."""

ISSUE_DATE_FORMAT: Final = "%m/%d/%Y"
_ISSUE_DATE = re.compile(ISSUE_DATE_PATTERN)


def issue_day_of(issue_date: str | None) -> date | None:
    """The day an ``issue_date`` text names, or ``None`` (the rule, in Python).

    Example:
        >>> issue_day_of("02/29/2016"), issue_day_of("02/30/2016"), issue_day_of("2/1/2016")
        (datetime.date(2016, 2, 29), None, None)
    """
    if issue_date is None or _ISSUE_DATE.fullmatch(issue_date) is None:
        return None
    try:
        return datetime.strptime(issue_date, ISSUE_DATE_FORMAT).replace(tzinfo=UTC).date()
    except ValueError:
        return None


def _integer_bounds(name: str) -> tuple[int | None, int | None]:
    low: int | None = None
    high: int | None = None
    for constraint in HistoricalTicket.model_fields[name].metadata:
        low = getattr(constraint, "ge", low)
        high = getattr(constraint, "le", high)
        if getattr(constraint, "gt", None) is not None:
            low = int(constraint.gt) + 1
        if getattr(constraint, "lt", None) is not None:
            high = int(constraint.lt) - 1
    return low, high


INTEGER_BOUNDS: Final[Mapping[str, tuple[int | None, int | None]]] = {
    name: bounds
    for name in sorted(INTEGER_FIELDS)
    if (bounds := _integer_bounds(name)) != (None, None)
}
"""Inclusive ``(lowest, highest)`` value of the integer fields the model bounds (``None``: no
bound), read from the model's own constraints so that a check built from it is the model's."""


class TicketLayout(StrEnum):
    """The two header layouts of the real files."""

    FY2014_2016 = "fy2014-2016"
    FY2017 = "fy2017"

    @property
    def column_count(self) -> int:
        """How many columns a row of this layout has."""
        return 51 if self is TicketLayout.FY2014_2016 else 43

    @property
    def fields(self) -> tuple[str, ...]:
        """Ticket field names of this layout's columns, in file order."""
        return SOURCE_FIELDS[: self.column_count]


def detect_layout(header: Sequence[str]) -> TicketLayout:
    """Recognise a tickets file by its header.

    Names are compared after normalisation, so trailing spaces or case do not matter; order does.

    Raises:
        UnknownLayoutError: the header is not one of the real layouts (not a tickets file).
    """
    names = tuple(normalise_column_name(h) for h in header)
    for layout in TicketLayout:
        if names == layout.fields:
            return layout
    expected = ", ".join(
        f"{layout.value}: {layout.column_count} columns" for layout in TicketLayout
    )
    got = ", ".join(repr(h) for h in header[:5])
    raise UnknownLayoutError(
        f"not a parking-violations header ({len(header)} columns starting {got}); "
        f"expected the NYC 'Parking Violations Issued' header ({expected})"
    )


def parse_source_value(field: str, text: str) -> int | str | None:
    """Type one source value: ``None`` if empty, ``int`` for integer fields, else the text.

    Integer fields accept only canonical integers (``"33"``, not ``"0033"`` nor ``"3.0"``), so
    ``str(value)`` always gives back the source text.

    Raises:
        TicketFormatError: an integer field holds something else.
    """
    if text == "":
        return None
    if field not in INTEGER_FIELDS:
        return text
    if re.fullmatch(INTEGER_TEXT_PATTERN, text) is None:
        raise TicketFormatError(f"{field}: expected an integer, got {text[:40]!r}")
    value = int(text)
    low, high = INTEGER_BOUNDS.get(field, (None, None))
    if (low is not None and value < low) or (high is not None and value > high):
        raise TicketFormatError(f"{field}: {value} is out of range [{low}, {high}]")
    return value


def ticket_from_source_row(
    layout: TicketLayout,
    values: Sequence[str],
    *,
    drone_id: str,
    latitude: float,
    longitude: float,
    source_file: str,
    source_line: int,
    event_id: str,
    emitted_at: datetime | None = None,
) -> HistoricalTicket:
    """Build a ticket from one parsed CSV row of a known layout (the reference conversion).

    Raises:
        TicketFormatError: wrong column count or a value that its field cannot hold.
    """
    if len(values) != layout.column_count:
        raise TicketFormatError(
            f"expected {layout.column_count} columns ({layout.value}), got {len(values)}"
        )
    fields: dict[str, Any] = {
        name: parse_source_value(name, text)
        for name, text in zip(layout.fields, values, strict=True)
    }
    if fields["summons_number"] is None:
        raise TicketFormatError("summons_number: empty")
    fields.update(
        event_id=event_id,
        drone_id=drone_id,
        latitude=latitude,
        longitude=longitude,
        source_file=source_file,
        source_line=source_line,
    )
    if emitted_at is not None:
        fields["emitted_at"] = emitted_at
    return HistoricalTicket.model_validate(fields)


def ticket_to_source_row(ticket: HistoricalTicket, layout: TicketLayout) -> list[str]:
    """Give back the source text of each column of ``layout`` (inverse of the conversion)."""
    values = ticket.model_dump(include=set(layout.fields))
    return ["" if values[name] is None else str(values[name]) for name in layout.fields]
