"""Settings: defaults, and errors that name the environment variable to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from prestacop_shared.config import load_settings
from prestacop_shared.exceptions import ConfigError
from prestacop_stream_storage.config import Settings

pytestmark = pytest.mark.unit


def test_defaults_store_every_dataset_every_ten_seconds() -> None:
    settings = Settings()
    assert settings.dataset_names == (
        "status",
        "violations",
        "alerts",
        "alert_resolutions",
        "tickets",
    )
    assert settings.trigger_interval_s == 10.0
    assert settings.checkpoint_root == Path("data") / "_checkpoints"


def test_a_subset_keeps_registry_order_and_drops_repeats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_DATASETS", "tickets, status,tickets")
    assert load_settings(Settings).dataset_names == ("status", "tickets")


def test_unknown_dataset_is_refused_naming_the_variable_and_choices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STORAGE_DATASETS", "status,parking")
    with pytest.raises(ConfigError) as error:
        load_settings(Settings)
    assert "STORAGE_DATASETS" in str(error.value)
    assert "parking" in str(error.value)
    assert "alert_resolutions" in str(error.value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("STORAGE_TRIGGER_INTERVAL_S", "-1"),
        ("STORAGE_MAX_OFFSETS_PER_TRIGGER", "0"),
        ("STORAGE_FAIL_ON_DATA_LOSS", "maybe"),
        ("STORAGE_MIN_KAFKA_PARTITIONS", "zero"),
    ],
)
def test_bad_values_name_their_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        load_settings(Settings)


def test_checkpoint_dir_can_live_apart_from_the_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_DATA_DIR", "/volume/data")
    monkeypatch.setenv("STORAGE_CHECKPOINT_DIR", "/volume/checkpoints")
    assert load_settings(Settings).checkpoint_root == Path("/volume/checkpoints")
