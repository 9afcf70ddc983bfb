"""Violation codes follow the real ticket frequencies; plates look like New York plates."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from prestacop_drone.offences import PLATE_SHAPES, ViolationCodeSampler, image_id, plate_id
from prestacop_shared.violation_codes import load_violation_codes

pytestmark = pytest.mark.unit


def test_weights_come_from_the_real_fy2017_rows_and_known_codes() -> None:
    weights = ViolationCodeSampler.from_package_data().weights
    assert set(weights) <= set(load_violation_codes())
    assert sum(weights.values()) == 10_211  # 10,212 rows minus one code-94 row not in the table
    top_five = [code for code, _ in Counter(weights).most_common(5)]
    assert top_five == [21, 36, 38, 14, 20]  # same as the published FY2017 totals


def test_drawn_codes_follow_the_weights() -> None:
    sampler = ViolationCodeSampler.from_package_data()
    rng = random.Random(42)
    draws = 100_000
    counts = Counter(sampler.draw(rng) for _ in range(draws))
    total = sum(sampler.weights.values())
    assert set(counts) <= set(sampler.weights)
    for code, weight in Counter(sampler.weights).most_common(10):
        expected = weight / total
        assert counts[code] / draws == pytest.approx(expected, abs=0.01), code


def test_sampler_refuses_codes_outside_the_dof_table() -> None:
    with pytest.raises(ValueError, match="not in the DOF table"):
        ViolationCodeSampler({21: 5, 94: 1})


def test_plates_have_new_york_shapes() -> None:
    rng = random.Random(7)
    shapes = {re.sub(r"[0-9]", "9", re.sub(r"[A-Z]", "A", plate_id(rng))) for _ in range(5_000)}
    assert shapes <= {shape for shape, _ in PLATE_SHAPES}
    assert "AAA9999" in shapes and "99999AA" in shapes


def test_image_ids_are_unique_and_repeatable_with_a_seed() -> None:
    first = [image_id(random.Random(9)) for _ in range(3)]
    assert len(set(first)) == 1
    rng = random.Random(9)
    assert len({image_id(rng) for _ in range(10_000)}) == 10_000
