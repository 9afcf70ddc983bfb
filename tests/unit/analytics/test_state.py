"""The kept state's commit protocol and the merge of partials split across runs (real files)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from prestacop_analytics.exceptions import RunInProgressError
from prestacop_analytics.merge import merge_partials
from prestacop_analytics.state import KeptState, StateStore

pytestmark = pytest.mark.unit


def _partial(store: StateStore, run_id: str, kind: str, table: pa.Table) -> None:
    folder = store.temporary_partial_dir(run_id) / kind / kind
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "part-00000.parquet")


def test_a_commit_is_what_the_next_run_loads(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    state = store.load()
    assert state.partials == [] and state.inputs == {}
    state.coverage("tickets").files["/data/a.csv"] = 3
    state.coverage("tickets").rows = 10
    state.partials.append("run-1")
    store.commit(state)
    loaded = store.load()
    assert loaded.coverage("tickets").files == {"/data/a.csv": 3}
    assert loaded.coverage("tickets").stamp() == {"files": 1, "rows": 10, "latest_batch": 3}
    assert loaded.partials == ["run-1"] and loaded.generation == 1


def test_partials_published_but_not_committed_are_ignored_and_removed(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.commit(KeptState())
    _partial(store, "killed", "quarantine", pa.table({"kafka_topic": ["t"], "reason": ["r"]}))
    store.publish_partial("killed")
    state = store.load()
    assert state.partials == []
    assert store.remove_uncommitted(state) == ["killed"]
    assert not store.partial_dir("killed").exists()


def test_one_run_at_a_time(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    with store.locked(), pytest.raises(RunInProgressError), StateStore(tmp_path).locked():
        pass


def test_resolutions_counted_in_a_later_run_join_alerts_of_an_earlier_one(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    alerts = pa.table(
        {"event_id": ["a1", "a2"], "drone_id": ["d1", "d1"], "emitted_us": [0, 1_000_000]}
    )
    _partial(store, "run-1", "alerts", alerts)
    store.publish_partial("run-1")
    resolutions = pa.table(
        {"alert_id": ["a1", "a2"], "drone_id": ["d1", "d1"], "emitted_us": [3_000_000, 2_000_000]}
    )
    _partial(store, "run-2", "resolutions", resolutions)
    store.publish_partial("run-2")
    merged = merge_partials([store.partial_dir("run-1"), store.partial_dir("run-2")])
    assert merged.alerts_by_drone["d1"] == 2
    assert merged.resolved["d1"] == (2, 4_000_000, 3_000_000)
