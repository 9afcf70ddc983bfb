"""The report's "as of" stamps: quarantine sinks summed, every other input stamped alone."""

from __future__ import annotations

import pytest

from prestacop_analytics.report import _stamps
from prestacop_analytics.state import InputCoverage, KeptState

pytestmark = pytest.mark.unit


def test_an_empty_input_is_not_taken_for_an_empty_quarantine_sink() -> None:
    """Failed on the merged code in Docker: equal (empty) coverages were matched by value, so
    the empty ``alerts`` input was taken for a quarantine sink and its name split failed."""
    state = KeptState(
        inputs={
            "tickets": InputCoverage(files={"/d/a.txt": 0}, rows=3),
            "alerts": InputCoverage(),
            "quarantine/tickets": InputCoverage(),
            "quarantine/alerts": InputCoverage(files={"/q/b.csv": 1}, rows=2),
        }
    )
    stamps = _stamps(state)
    assert set(stamps) == {"tickets", "alerts", "quarantine"}
    assert stamps["tickets"]["rows"] == 3 and stamps["alerts"]["rows"] == 0
    assert stamps["quarantine"]["rows"] == 2
    assert set(stamps["quarantine"]["sinks"]) == {"tickets", "alerts"}
