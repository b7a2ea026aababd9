"""The cyclic garbage collector is paused while a sync runs, and back as it was afterwards."""

import gc

import pytest

from flows.errors import InputError
from flows.pipeline.collector import cycle_collection_paused
from flows.pipeline.sync import nightly_sync
from tests.conftest import use_warehouse


class Collections:
    """Counts the collections the interpreter starts, per generation, while recording."""

    def __init__(self) -> None:
        self.started = [0, 0, 0]

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self.started[info["generation"]] += 1

    def __enter__(self) -> "Collections":
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc) -> None:
        gc.callbacks.remove(self)


def cycles(count: int) -> list:
    """`count` container objects that each refer to themselves: work for the collector."""
    made = []
    for _ in range(count):
        node = []
        node.append(node)
        made.append(node)
    return made


def test_no_collection_runs_inside_and_the_collector_is_back_after():
    assert gc.isenabled()
    with Collections() as outside:
        cycles(50_000)
    assert outside.started[0] > 0  # the same allocations trigger the collector when it runs
    with cycle_collection_paused(), Collections() as inside:  # paused first: entering allocates too
        assert not gc.isenabled()
        cycles(50_000)
    assert inside.started == [0, 0, 0]
    assert gc.isenabled()


def test_the_collector_is_back_after_a_failure_inside():
    with pytest.raises(ZeroDivisionError), cycle_collection_paused():
        1 / 0
    assert gc.isenabled()


def test_a_collector_paused_outside_stays_paused():
    gc.disable()
    try:
        with cycle_collection_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_sync_runs_with_the_collector_paused_and_gives_it_back(published_sample, tmp_path, monkeypatch):
    root = published_sample.copy_to(tmp_path / "copy")
    use_warehouse(monkeypatch, root)
    with Collections() as during:
        report = nightly_sync()
    assert report["statut"] == "publie"
    # Prefect's engine around the flow still allocates with the collector on (2 collections seen); unpaused, this
    # sync started about 930, one of them full.
    assert sum(during.started) <= 10 and during.started[2] == 0
    assert gc.isenabled()


def test_a_refused_sync_gives_the_collector_back(published_sample, tmp_path, monkeypatch):
    root = published_sample.copy_to(tmp_path / "copy")
    use_warehouse(monkeypatch, root)
    (tmp_path / "vide").mkdir()
    with pytest.raises(InputError):
        nightly_sync(source_dir=str(tmp_path / "vide"))
    assert gc.isenabled()
