"""Every topic's value encoding comes from the catalogue: T1 ticket lines for the bulk topic."""

from __future__ import annotations

import pytest

from prestacop_shared import topics
from prestacop_shared.topics import CATALOGUE, Encoding

pytestmark = pytest.mark.unit


def test_the_bulk_topic_carries_ticket_lines_and_every_other_topic_json() -> None:
    assert CATALOGUE[topics.NYPD_TICKETS].encoding is Encoding.TICKET_LINES
    assert CATALOGUE[topics.NYPD_TICKETS].record == "HistoricalTicket"
    others = {t.encoding for name, t in CATALOGUE.items() if name != topics.NYPD_TICKETS}
    assert others == {Encoding.JSON}
    assert CATALOGUE[topics.NYPD_TICKETS_DLQ].record == "DeadLetter"
