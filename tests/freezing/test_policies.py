"""Policy decisions as pure functions of the plan and the statistics they are given."""

import json
import math

import numpy as np
import pytest

from automl_kit.freezing import (
    AutoFreeze,
    FreezeOut,
    GradientStatistics,
    IntelligentFreezing,
    NoFreezing,
    StepDecay,
    TrainingPlan,
)
from automl_kit.utils import to_jsonable


def plan(layers=6, epochs=12, starts=(0,), steps=10):
    return TrainingPlan(tuple(f"l{i}" for i in range(layers)), epochs, steps, starts)


def stats_with_rates(rates):
    """Statistics whose Eq. 3.1 rates are ``rates`` (sum_of_abs 1 per layer)."""
    rates = np.asarray(rates, dtype=float)
    return GradientStatistics(1.0 - rates, np.ones_like(rates), np.ones_like(rates), steps=10)


def test_statistics_rates_and_frozen_layers_are_nan():
    stats = GradientStatistics(
        np.array([np.nan, 2.0, 0.0]), np.array([np.nan, 4.0, 0.0]), np.zeros(3), steps=3
    )
    rates = stats.freezing_rates
    assert np.isnan(rates[0]) and rates[1] == 0.5 and rates[2] == 1.0


def test_step_decay_stages():
    schedule = StepDecay.for_epochs(12, initial=0.1)
    assert schedule.milestones == (6, 9)
    assert [schedule(e) for e in (0, 5, 6, 9, 11)] == pytest.approx([0.1, 0.1, 0.01, 0.001, 0.001])
    assert schedule.stage_start(7) == 6
    with pytest.raises(ValueError, match="increasing"):
        StepDecay(0.1, milestones=(5, 3))


def test_intelligent_freezing_follows_algorithm_1_per_stage():
    policy = IntelligentFreezing.thesis(warmup_epochs=1, every=2, second_every=4)
    policy.setup(plan(layers=6, epochs=12, starts=(0, 8)))
    assert [e for e in range(12) if policy.collects_statistics(e)] == [0, 8]
    assert policy.frozen_prefix(0) == 0
    # middle rates 0.1..0.4 -> standardised first layers positive, later negative
    policy.update(0, stats_with_rates([0.9, 0.8, 0.1, 0.6, 0.0, 0.05]))
    decision = policy.stages[0]
    assert decision["group1_layers"] == 2
    assert decision["group2_layers"] == 4
    # epochs after warm-up, counted from 0: group 1 at 0, 2; layers 1..n2 at 3, 7; none otherwise
    assert [policy.frozen_prefix(e) for e in range(1, 8)] == [2, 0, 2, 4, 2, 0, 2]
    # the next stage has not been measured yet: no freezing until it is
    assert policy.frozen_prefix(8) == 0 and policy.frozen_prefix(9) == 0
    policy.update(7, stats_with_rates([0.9, 0.8, 0.1, 0.6, 0.0, 0.05]))  # not a measuring epoch
    assert 8 not in policy.stages


EMPTY = [0.0, 0.1, 0.5, 0.9, 0.2]  # rising rates: no prefix has a positive sum


@pytest.mark.parametrize("remeasure", [True, False])
def test_an_empty_measurement_is_repeated_only_with_remeasure_empty(remeasure):
    policy = IntelligentFreezing.thesis(warmup_epochs=1, every=2, remeasure_empty=remeasure)
    policy.setup(plan(layers=5, epochs=10))
    policy.update(0, stats_with_rates(EMPTY))
    assert policy.stages[0]["group1_layers"] == 0
    assert policy.frozen_prefix(1) == 0
    assert policy.collects_statistics(1) == remeasure
    policy.update(1, stats_with_rates([0.9, 0.8, 0.1, 0.3, 0.0]))
    if remeasure:
        assert policy.stages[0]["measurements"] == 2 and policy.stages[0]["group1_layers"] == 2
        assert [policy.frozen_prefix(e) for e in (2, 3, 4)] == [2, 0, 2]
        assert not policy.collects_statistics(3)
    else:
        assert policy.stages[0]["measurements"] == 1
        assert [policy.frozen_prefix(e) for e in (2, 3, 4)] == [0, 0, 0]


def test_intelligent_freezing_rejects_bad_periods():
    with pytest.raises(ValueError, match="warmup_epochs"):
        IntelligentFreezing(warmup_epochs=0)
    with pytest.raises(ValueError, match="periods"):
        IntelligentFreezing(every=0)
    with pytest.raises(ValueError, match="mode"):
        IntelligentFreezing(mode="careful")
    with pytest.raises(ValueError, match="confirm"):
        IntelligentFreezing(confirm=0)
    with pytest.raises(ValueError, match="growth"):
        IntelligentFreezing(growth=0.0)


def rising(prefix, layers=22):
    """Rates whose Eq. 3.4 choice is the first ``prefix`` units (high rates, then low)."""
    return [0.9] * prefix + [0.5] * (layers - prefix - 1) + [0.2]


def test_safe_mode_confirms_with_two_measurements_and_grows_gradually():
    policy = IntelligentFreezing()  # safe: confirm=2, growth=0.5, every=1, no group 2
    policy.setup(plan(layers=22, epochs=16, starts=(0, 8, 12)))
    policy.update(0, stats_with_rates(rising(21)))
    assert policy.stages[0]["choices"] == [21]
    assert policy.frozen_prefix(1) == 0  # one measurement alone freezes nothing
    assert policy.collects_statistics(1)
    policy.update(1, stats_with_rates(rising(5)))
    assert policy.stages[0]["group1_layers"] == 5  # the smaller of the two choices
    assert not policy.collects_statistics(2)
    assert [policy.frozen_prefix(e) for e in range(2, 8)] == [5] * 6  # continuous
    # the next stage keeps the 5 units frozen while it measures the other 17 (NaN before them)
    # and confirms 18 twice: 5 + 11 (half of 22) first, then all 18
    assert policy.collects_statistics(8) and policy.frozen_prefix(8) == 5
    policy.update(8, stats_with_rates(kept_nan(rising(18), 5)))
    policy.update(9, stats_with_rates(kept_nan(rising(19), 5)))
    assert policy.stages[8]["choices"] == [18, 19] and policy.stages[8]["group1_layers"] == 18
    assert policy.stages[8]["kept"] == 5
    assert [policy.frozen_prefix(e) for e in range(8, 12)] == [5, 5, 16, 18]


def kept_nan(rates, kept):
    """Rates of an epoch with the first ``kept`` units frozen (no statistics for them)."""
    return [float("nan")] * kept + list(rates[kept:])


def test_without_keep_frozen_a_later_stage_measures_every_unit_unfrozen():
    policy = IntelligentFreezing(keep_frozen=False)
    policy.setup(plan(layers=22, epochs=16, starts=(0, 8, 12)))
    policy.update(0, stats_with_rates(rising(5)))
    policy.update(1, stats_with_rates(rising(5)))
    policy.update(8, stats_with_rates(rising(18)))
    policy.update(9, stats_with_rates(rising(19)))
    assert policy.stages[8]["group1_layers"] == 18 and policy.stages[8]["kept"] == 0
    assert [policy.frozen_prefix(e) for e in range(8, 12)] == [0, 0, 11, 18]


def test_safe_mode_remeasures_until_two_consecutive_choices_agree_on_some_layers():
    policy = IntelligentFreezing(confirm=2)
    policy.setup(plan(layers=5, epochs=10))
    policy.update(0, stats_with_rates([0.9, 0.8, 0.1, 0.3, 0.0]))  # 2 layers
    policy.update(1, stats_with_rates(EMPTY))  # none: min(2, 0) = 0, measure again
    assert policy.stages[0]["group1_layers"] == 0 and policy.collects_statistics(2)
    policy.update(2, stats_with_rates([0.9, 0.8, 0.1, 0.3, 0.0]))
    assert policy.stages[0]["choices"] == [2, 0, 2] and policy.stages[0]["group1_layers"] == 0
    policy.update(3, stats_with_rates([0.9, 0.8, 0.7, 0.3, 0.0]))  # 3 layers: min(2, 3)
    assert policy.stages[0]["group1_layers"] == 2
    assert [policy.frozen_prefix(e) for e in range(3, 7)] == [0, 2, 2, 2]


def test_modes_configs_round_trip_and_old_configs_read_as_thesis():
    safe = IntelligentFreezing(growth=0.25)
    again = IntelligentFreezing.from_config(json.loads(json.dumps(safe.get_config())))
    assert again.get_config() == safe.get_config()
    assert (again.mode, again.every, again.second_every, again.confirm) == ("safe", 1, 0, 2)
    # a config written before the modes existed is Algorithm 1
    old = {"warmup_epochs": 1, "every": 2, "second_every": 6, "remeasure_empty": True}
    assert (
        IntelligentFreezing.from_config(old).get_config()
        == IntelligentFreezing.thesis().get_config()
    )


def test_freezeout_times_and_learning_rates():
    policy = FreezeOut(t0=0.5, spacing="linear", scale_lr=False)
    policy.setup(plan(layers=5, epochs=10))
    np.testing.assert_allclose(policy.freeze_times, [0.5, 0.625, 0.75, 0.875, 1.0])
    np.testing.assert_allclose(policy.unit_scales(0.0), 1.0)
    half = policy.unit_scales(0.25)  # halfway to layer 0's freeze time
    assert half[0] == pytest.approx(0.5)
    assert half[-1] == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.25)))
    assert policy.unit_scales(0.5)[0] == 0.0
    assert [policy.frozen_prefix(e) for e in (0, 4, 5, 7, 9)] == [0, 0, 1, 2, 4]

    cubic = FreezeOut(t0=0.8, spacing="cubic", scale_lr=True)
    cubic.setup(plan(layers=3, epochs=10))
    np.testing.assert_allclose(cubic.freeze_times, [0.512, 0.729, 1.0])
    np.testing.assert_allclose(cubic.unit_scales(0.0), 1 / cubic.freeze_times, rtol=1e-6)
    assert cubic.frozen_prefix(9) == 2  # never the last layer
    with pytest.raises(ValueError, match="spacing"):
        FreezeOut(spacing="square")


def test_autofreeze_freezes_a_growing_prefix():
    policy = AutoFreeze(percentile=50, warmup_epochs=1)
    policy.setup(plan(layers=5))
    norms = lambda values: GradientStatistics(np.zeros(5), np.ones(5), np.asarray(values, float), 5)  # noqa: E731
    policy.update(0, norms([1.0, 1.0, 1.0, 1.0, 1.0]))
    assert policy.frozen_prefix(1) == 0  # needs two epochs to measure a change
    # changes 0.01, 0.02, 0.5, 0.6, 0.9: at or below the median (0.5) are layers 1-3
    policy.update(1, norms([1.01, 1.02, 1.5, 1.6, 1.9]))
    assert policy.frozen_prefix(2) == 3
    policy.update(2, norms([np.nan, np.nan, np.nan, 1.6, 1.0]))  # changes 0 and 0.47
    assert policy.frozen_prefix(3) == 4  # all but the last layer
    assert not policy.collects_statistics(3)


def test_no_freezing():
    policy = NoFreezing()
    policy.setup(plan())
    assert [policy.frozen_prefix(e) for e in range(12)] == [0] * 12
    assert policy.summary() == {"name": "none", "policy": "none"}


def test_callback_and_trainer_configs_round_trip():
    import keras

    from automl_kit.freezing import FreezingCallback, FreezingTrainer
    from automl_kit.testing import check_config_round_trip
    from tests.freezing.conftest import tiny_cnn

    callback = FreezingCallback(FreezeOut(t0=0.6), StepDecay(0.1, (3,)), record_rates=True)
    check_config_round_trip(callback)
    rebuilt = FreezingCallback.from_config(json.loads(json.dumps(callback.get_config())))
    assert rebuilt.policy.t0 == 0.6 and rebuilt.schedule.milestones == (3,)

    trainer = FreezingTrainer(
        tiny_cnn(), keras.optimizers.SGD(0.05, momentum=0.9), policy=AutoFreeze(percentile=40)
    )
    config = json.loads(json.dumps(trainer.get_config()))
    again = FreezingTrainer.from_config(config, tiny_cnn())
    assert again.get_config() == config
    assert again.optimizer.get_config()["momentum"] == 0.9 and again.policy.percentile == 40


def test_policy_state_survives_json():
    """Checkpoints store a policy's learnt state as JSON (NaN as null) and give it back."""
    source = IntelligentFreezing()
    source.setup(plan(layers=5, starts=(0, 6)))
    measured = GradientStatistics(
        np.array([0.5, 1.0, 3.0, 2.0, 4.0]), np.array([3.5, 4.0, 3.5, 3.0, 4.0]), np.ones(5), 10
    )
    source.update(0, measured)
    source.update(1, measured)
    assert source.frozen_prefix(2) > 0
    stored = json.loads(json.dumps(to_jsonable(source.get_state())))
    target = IntelligentFreezing()
    target.setup(plan(layers=5, starts=(0, 6)))
    target.set_state(stored)
    assert target.stages.keys() == source.stages.keys() == {0}
    assert target.stages[0]["freezing_rates"] == pytest.approx(source.stages[0]["freezing_rates"])
    assert [target.frozen_prefix(e) for e in range(12)] == [
        source.frozen_prefix(e) for e in range(12)
    ]

    auto = AutoFreeze()
    auto.setup(plan(layers=3))
    auto.update(0, GradientStatistics(np.zeros(3), np.zeros(3), np.array([np.nan, 1.0, 2.0]), 10))
    other = AutoFreeze()
    other.setup(plan(layers=3))
    other.set_state(json.loads(json.dumps(to_jsonable(auto.get_state()))))
    assert (
        np.isnan(other._previous[0]) and other._previous[1:].tolist() == auto._previous[1:].tolist()
    )
