"""Hypothesis settings of the csv-ingestor's property tests, chosen by ``INGESTOR_FUZZ_PROFILE``.

``default`` (the suite: at least 2,000 generated files, a few seconds) or ``fuzz`` (``make fuzz``:
many more, failures kept in ``.cache/hypothesis`` to be replayed first next time). Applied per
test with ``@settings(parent=PROFILE)``, so other tests' Hypothesis settings are left alone.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow], "print_blob": True}
PROFILES = {
    "default": settings(max_examples=2_000, database=None, **_COMMON),  # type: ignore[arg-type]
    "fuzz": settings(
        max_examples=int(os.environ.get("INGESTOR_FUZZ_EXAMPLES", "50000")),
        database=DirectoryBasedExampleDatabase(".cache/hypothesis"),
        **_COMMON,  # type: ignore[arg-type]
    ),
}
_NAME = os.environ.get("INGESTOR_FUZZ_PROFILE", "default")
if _NAME not in PROFILES:
    raise RuntimeError(f"INGESTOR_FUZZ_PROFILE={_NAME!r}: expected one of {sorted(PROFILES)}")
PROFILE = PROFILES[_NAME]
"""The profile in force."""
