import math

import pytest

from automl_kit.utils.budget import Budget, BudgetExhausted


@pytest.mark.parametrize("bad", [math.nan, "nan", -1, 0, "-5m", "soon", math.inf])
def test_bad_time_budgets_are_refused(bad):
    with pytest.raises(ValueError, match="time budget|duration"):
        Budget(time=bad)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_evaluation_budgets_are_refused(bad):
    with pytest.raises(ValueError, match="evaluation budget"):
        Budget(evaluations=bad)


def test_evaluation_budget_counts_and_stops():
    budget = Budget(evaluations=5).start(spent=2)  # two from an earlier run
    assert budget.used() == pytest.approx(0.4) and budget.remaining_evaluations == 3
    budget.check()
    budget.count(3)
    assert budget.used() == 1.0 and budget.exhausted()
    with pytest.raises(BudgetExhausted, match="evaluation budget of 5 spent"):
        budget.check()


def test_time_budget_parses_durations_and_sets_a_deadline():
    budget = Budget(time="2m").start()
    assert budget.seconds == 120.0
    assert 0 <= budget.used() < 0.5
    assert budget.deadline == pytest.approx(budget._started + 120)
    assert 0 < budget.remaining_seconds <= 120
    assert budget.message() == "time budget of 120 s spent"


def test_time_budget_runs_out(monkeypatch):
    budget = Budget(time=10, evaluations=100).start()
    now = budget._started
    monkeypatch.setattr("automl_kit.utils.budget._time.time", lambda: now + 11)
    assert budget.used() == 1.0 and budget.remaining_seconds == 0.0
    with pytest.raises(BudgetExhausted, match="time budget of 10 s spent"):
        budget.check()


def test_used_is_the_larger_share_and_none_without_a_budget(monkeypatch):
    budget = Budget(time=100, evaluations=10).start()
    now = budget._started
    monkeypatch.setattr("automl_kit.utils.budget._time.time", lambda: now + 20)
    budget.count(5)
    assert budget.used() == pytest.approx(0.5)
    unlimited = Budget().start()
    unlimited.count(1000)
    assert unlimited.used() is None and not unlimited and not unlimited.exhausted()
    unlimited.check()


def test_config_round_trip():
    budget = Budget(time="30m", evaluations=7)
    again = Budget.from_config(budget.get_config())
    assert again.get_config() == budget.get_config() == {"time": 1800.0, "evaluations": 7}
