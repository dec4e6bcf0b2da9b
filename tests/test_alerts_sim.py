"""A small seeded run of the alerts simulation (`bench/alerts_sim.py` is the full one).

150 products over 60 days with 48 injected spikes: the shipped statistic meets the issue's targets
on this stream, and the naive fixed-count rule, on the same stream, does not.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parent.parent / "bench" / "alerts_sim.py"


@pytest.fixture(scope="module")
def sim():
    spec = importlib.util.spec_from_file_location("alerts_sim", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["alerts_sim"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("alerts_sim", None)


@pytest.fixture(scope="module")
def world(sim):
    return sim.generate(seed=3, n_products=150, days=60, spikes_per_cause=12)


@pytest.fixture(scope="module")
def shipped(sim, world):
    return sim.measure(world, sim.shipped_judge(), seed=3)


def test_the_stream_has_spikes_of_every_cause_with_five_or_more_extra_complaints(sim, world):
    assert {s.cause for s in world.spikes} == set(range(len(sim.CAUSES)))
    assert min(s.extra for s in world.spikes) >= 5


def test_at_least_95_percent_of_spikes_are_detected_within_24_hours(shipped):
    assert shipped.detection_rate >= 0.95


def test_at_most_one_false_alert_per_100_products_per_week(shipped):
    assert shipped.false_per_100_weeks <= 1.0


def test_detection_comes_before_the_spike_is_over(shipped):
    assert sorted(shipped.delay_hours)[len(shipped.delay_hours) // 2] < 12


def test_a_fixed_count_rule_on_the_same_stream_drowns_ops_in_false_alerts(sim, world):
    naive = sim.measure(world, sim.fixed_count_judge(3), seed=3)
    assert naive.false_per_100_weeks > 10.0
