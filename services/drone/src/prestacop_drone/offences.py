"""What a drone sees: violation codes drawn from real frequencies, NY plates, image ids, alerts.

Every random choice takes the drone's own :class:`random.Random`, so a seeded run repeats itself.
"""

from __future__ import annotations

import csv
import io
import random
import string
import uuid
from bisect import bisect_right
from functools import cache
from importlib import resources
from itertools import accumulate
from typing import Final

from prestacop_shared.events import AlertReason
from prestacop_shared.violation_codes import load_violation_codes

WEIGHTS_FILE: Final = "violation_code_weights.csv"

# Plate shapes of New York-registered vehicles in the real FY2017 sample (7,930 NY rows of
# tests/data/nyc/fy2017_head_10212_rows.csv): A = letter, 9 = digit, with their row counts
# (the twelve most common shapes, 7,809 of the 7,930 rows; all-letter shapes are vanity plates).
# Passenger ABC1234, commercial 12345MA, taxi T123456C, medallion 1A23B, motorcycle 12AB34...
PLATE_SHAPES: Final[tuple[tuple[str, int], ...]] = (
    ("AAA9999", 5458),
    ("99999AA", 1748),
    ("A999999A", 375),
    ("9A99A", 58),
    ("A999AA", 27),
    ("99AA99", 23),
    ("AAA999", 21),
    ("AAAAAAAA", 21),
    ("AAAAAAA", 18),
    ("AAAAAA", 14),
    ("999AAA", 13),
    ("999999", 12),
)
_PLATE_SHAPE_NAMES: Final = [shape for shape, _ in PLATE_SHAPES]
_PLATE_SHAPE_CUMULATIVE: Final = list(accumulate(count for _, count in PLATE_SHAPES))

ALERT_DETAILS: Final[dict[AlertReason, tuple[str, ...]]] = {
    AlertReason.OFFENCE_UNCLASSIFIED: (
        "vehicle stopped in a place no rule on file covers",
        "signage ambiguous: two conflicting parking signs in view",
        "possible double parking, but a delivery may be in progress",
    ),
    AlertReason.PLATE_UNREADABLE: (
        "plate covered by snow or dirt",
        "plate bent or partly missing",
        "no rear plate visible",
    ),
    AlertReason.VIEW_OBSTRUCTED: (
        "view blocked by a truck",
        "tree canopy hides the vehicle",
        "glare from a wet road surface",
    ),
    AlertReason.LOW_CONFIDENCE: (
        "classifier confidence below threshold",
        "two offence classes scored almost the same",
    ),
}
_ALERT_REASONS: Final = tuple(ALERT_DETAILS)


class ViolationCodeSampler:
    """Draw violation codes with the frequencies of real NYC tickets.

    The weights are package data (``data/violation_code_weights.csv``, see ``data/README.md``),
    restricted to codes of the DOF table.

    Example:
        >>> sampler = ViolationCodeSampler.from_package_data()
        >>> sampler.draw(random.Random(1)) in sampler.weights
        True
    """

    def __init__(self, weights: dict[int, int]) -> None:
        known = load_violation_codes()
        unknown = sorted(set(weights) - set(known))
        if unknown:
            raise ValueError(f"violation codes not in the DOF table: {unknown}")
        if not weights or any(count <= 0 for count in weights.values()):
            raise ValueError("violation code weights must be positive and not empty")
        self.weights = dict(weights)
        self._codes = list(weights)
        self._cumulative = list(accumulate(weights.values()))
        self._total = self._cumulative[-1]

    @classmethod
    def from_package_data(cls) -> ViolationCodeSampler:
        """The sampler over the real FY2017 frequencies shipped with this package."""
        return cls(_package_weights())

    def draw(self, rng: random.Random) -> int:
        """One violation code, as likely as it is in the real tickets."""
        return self._codes[bisect_right(self._cumulative, rng.random() * self._total)]


@cache
def _package_weights() -> dict[int, int]:
    text = resources.files("prestacop_drone").joinpath("data", WEIGHTS_FILE).read_text("utf-8")
    rows = csv.DictReader(io.StringIO(text))
    return {int(row["violation_code"]): int(row["count"]) for row in rows}


def plate_id(rng: random.Random) -> str:
    """A New York-style plate, shaped like the real ones (``ABC1234``, ``12345MA``...).

    Example:
        >>> len(plate_id(random.Random(3))) >= 5
        True
    """
    total = _PLATE_SHAPE_CUMULATIVE[-1]
    shape = _PLATE_SHAPE_NAMES[bisect_right(_PLATE_SHAPE_CUMULATIVE, rng.random() * total)]
    return "".join(
        rng.choice(string.ascii_uppercase) if char == "A" else rng.choice(string.digits)
        for char in shape
    )


def random_hex_id(rng: random.Random) -> str:
    """A UUID4-shaped 32-hex id drawn from ``rng`` (seeded runs get the same ids)."""
    return uuid.UUID(int=rng.getrandbits(128), version=4).hex


def image_id(rng: random.Random) -> str:
    """The id of the picture the drone took of an offence."""
    return f"img-{random_hex_id(rng)}"


def alert_reason_and_detail(rng: random.Random) -> tuple[AlertReason, str]:
    """Why the drone could not classify what it saw, and a sentence for the operator."""
    reason = rng.choice(_ALERT_REASONS)
    return reason, rng.choice(ALERT_DETAILS[reason])
