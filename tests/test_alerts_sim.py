"""Seeded runs of the alerts simulation (`bench/alerts_sim.py` is the full one).

Fast tier: 60 products over 30 days with 24 injected spikes (~0.3 s), and the simulation's windows
checked against the service's. Slow tier: 150 products over 60 days with 48 spikes.

The issue's targets are at least 95 % of spikes detected within 24 hours and at most one false alert
per 100 products per week. Pooled over the 24 held-out full-size streams (docs/benchmarks.md,
"Product alerts") both hold (95.4 % detected, 0.85 false), but not on every stream (91.9-98.0 %
detected, 0.68-1.09 false): a stream has ~248 spikes, so its detection alone moves by ~1.4 points.
On these small streams a single spike is 2-4 points, so the detection checks
here ask for 90 %, and the benchmark, not these tests, reports the target.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from triage.alerts.detect import DEFAULT_PARAMS, window_start

BENCH = Path(__file__).resolve().parent.parent / "bench" / "alerts_sim.py"
EPOCH = datetime(2026, 9, 1, tzinfo=UTC)  # the stream's time 0 (midnight UTC)


@pytest.fixture(scope="module")
def sim():
    spec = importlib.util.spec_from_file_location("alerts_sim", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["alerts_sim"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("alerts_sim", None)


# ---------------------------------------------------------------- fast: a small stream


@pytest.fixture(scope="module")
def small_world(sim):
    return sim.generate(seed=3, n_products=60, days=30, spikes_per_cause=6)


@pytest.fixture(scope="module")
def small(sim, small_world):
    return sim.measure(small_world, sim.shipped_judge(), seed=3)


def test_a_small_stream_has_its_spikes_caught_within_a_day_without_crying_wolf(small):
    assert small.spikes - small.covered >= 20
    assert small.detection_rate >= 0.9
    assert small.false_per_100_weeks <= 1.0
    assert sorted(small.delay_hours)[len(small.delay_hours) // 2] < 12


def test_a_fixed_count_rule_on_the_small_stream_cries_wolf(sim, small_world):
    assert sim.measure(small_world, sim.fixed_count_judge(3), seed=3).false_per_100_weeks > 10.0


@pytest.mark.parametrize("seconds", [0.0, 59.0, 3599.0, 3600.0, 7 * 3600 + 1234.5, 86_400.0 * 3 + 42.0])
@pytest.mark.parametrize("resolved_ago", [None, 1800.0, 4 * 3600.0, 30 * 3600.0])
def test_the_simulation_judges_the_same_whole_hour_windows_as_the_service(sim, seconds, resolved_ago):
    now = EPOCH + timedelta(seconds=seconds)
    resolved = None if resolved_ago is None else now - timedelta(seconds=resolved_ago)
    for length in DEFAULT_PARAMS.windows:
        start = sim.window_start_s(seconds, length.total_seconds(),
                                   -math.inf if resolved_ago is None else seconds - resolved_ago)
        assert EPOCH + timedelta(seconds=start) == window_start(now, length, resolved)


# ---------------------------------------------------------------- slow: the targets


@pytest.fixture(scope="module")
def world(sim):
    return sim.generate(seed=3, n_products=150, days=60, spikes_per_cause=12)


@pytest.fixture(scope="module")
def shipped(sim, world):
    return sim.measure(world, sim.shipped_judge(), seed=3)


@pytest.mark.slow
def test_the_stream_has_spikes_of_every_cause_with_five_or_more_extra_complaints(sim, world):
    assert {s.cause for s in world.spikes} == set(range(len(sim.CAUSES)))
    assert min(s.extra for s in world.spikes) >= 5


@pytest.mark.slow
def test_at_least_90_percent_of_spikes_are_detected_within_24_hours(shipped):
    assert shipped.detection_rate >= 0.9


@pytest.mark.slow
def test_at_most_one_false_alert_per_100_products_per_week(shipped):
    assert shipped.false_per_100_weeks <= 1.0


@pytest.mark.slow
def test_detection_comes_before_the_spike_is_over(shipped):
    assert sorted(shipped.delay_hours)[len(shipped.delay_hours) // 2] < 12


@pytest.mark.slow
def test_a_fixed_count_rule_on_the_same_stream_drowns_ops_in_false_alerts(sim, world):
    naive = sim.measure(world, sim.fixed_count_judge(3), seed=3)
    assert naive.false_per_100_weeks > 10.0
