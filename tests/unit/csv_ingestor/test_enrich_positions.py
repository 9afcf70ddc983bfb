"""Historical tickets are placed inside their own borough's boundary, the same way every time."""

from __future__ import annotations

import csv
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from prestacop_csv_ingestor import enrich
from prestacop_shared.fleet import borough_of_county
from tests.support.geometry import borough_edges, boroughs_containing

pytestmark = pytest.mark.unit

FLEET = enrich.archive_fleet("nypd", 100)
SAMPLES = sorted((Path(__file__).parents[2] / "data" / "nyc").glob("fy*.csv"))
POSITIONS_CODE = (
    "import numpy as np; from prestacop_csv_ingestor import enrich; "
    "lat, lon = enrich.positions(np.arange(1000, 1100, dtype=np.int64), "
    "np.arange(100, dtype=np.int64) % 6); print(lat.tolist(), lon.tolist())"
)


def _sample_rows() -> list[tuple[int, str, int]]:
    """(summons number, Violation County, Violation Precinct) of every real sample row."""
    rows = []
    for path in SAMPLES:
        with path.open(encoding="utf-8", newline="") as source:
            for row in csv.DictReader(source):
                precinct = row["Violation Precinct"]
                rows.append(
                    (int(row["Summons Number"]), row["Violation County"], int(precinct or 0))
                )
    return rows


def test_every_real_sample_ticket_lies_inside_its_countys_borough() -> None:
    rows = _sample_rows()
    assert len(rows) == 10_608
    placed = [enrich.ticket_enrichment(s, c, p, FLEET) for s, c, p in rows]
    holders = boroughs_containing(
        borough_edges(), [lat for _, lat, _ in placed], [lon for _, _, lon in placed]
    )
    outcomes: Counter[str] = Counter()
    for (summons, county, precinct), found in zip(rows, holders, strict=True):
        borough = borough_of_county(county)
        if borough is None and precinct:
            index = int(enrich.borough_indexes(np.array([-1]), np.array([precinct]))[0])
            borough = enrich.BOROUGHS[index] if index < len(enrich.BOROUGHS) else None
        if borough is not None:
            assert found == [borough], (summons, county, precinct, found)
            outcomes["own borough"] += 1
        else:
            assert len(found) == 1, (summons, county, precinct, found)
            outcomes["somewhere in the city"] += 1
    assert outcomes == {"own borough": 10_607, "somewhere in the city": 1}


def test_unknown_tickets_land_in_every_borough_and_known_ones_use_many_points() -> None:
    summons = np.arange(5_000_000_000, 5_000_020_000, dtype=np.int64)
    unknown = np.full(summons.shape, enrich.UNKNOWN_BOROUGH, dtype=np.int64)
    lat, lon = enrich.positions(summons, unknown)
    found = boroughs_containing(borough_edges(), lat[:2000], lon[:2000])
    assert all(len(names) == 1 for names in found)
    assert {names[0] for names in found} == set(enrich.BOROUGHS)
    manhattan = np.zeros(summons.shape, dtype=np.int64)
    lat, lon = enrich.positions(summons, manhattan)
    assert len(set(zip(lat.tolist(), lon.tolist(), strict=True))) > 7_000


def test_the_vectorised_and_scalar_paths_agree_and_every_process_agrees() -> None:
    summons = np.arange(1000, 1100, dtype=np.int64)
    boroughs = np.arange(100, dtype=np.int64) % 6
    lat, lon = enrich.positions(summons, boroughs)
    counties = [*enrich.BOROUGHS, None]
    for number, borough, latitude, longitude in zip(summons, boroughs, lat, lon, strict=True):
        county = counties[borough]
        code = next((c for c, b in enrich.COUNTY_TO_BOROUGH.items() if b == county), None)
        assert enrich.ticket_enrichment(int(number), code, None, FLEET)[1:] == (
            latitude,
            longitude,
        )
    fresh = subprocess.run(
        [sys.executable, "-c", POSITIONS_CODE], check=True, capture_output=True, text=True
    )
    assert fresh.stdout.strip() == f"{lat.tolist()} {lon.tolist()}"


def test_position_texts_are_the_repr_of_the_positions() -> None:
    summons = np.arange(7_000_000_000, 7_000_005_000, dtype=np.int64)
    boroughs = np.arange(summons.size, dtype=np.int64) % 6
    lat, lon = enrich.positions(summons, boroughs)
    lat_text, lon_text = enrich.position_texts(enrich.position_indexes(summons, boroughs))
    assert lat_text.to_list() == [repr(value) for value in lat.tolist()]
    assert lon_text.to_list() == [repr(value) for value in lon.tolist()]
