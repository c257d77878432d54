import numpy as np
import pytest

from automl_kit.diagnose import choose, measure_latency, select_model
from tests.diagnose.conftest import dense_model

# The deck's (seed 002) table: accuracy and classification time of classifiers A-F.
DECK = {
    "A": (0.945, 70),
    "B": (0.950, 95),
    "C": (0.943, 35),
    "D": (0.955, 240),
    "E": (0.968, 980),
    "F": (0.945, 60),
}
MEASURED = {k: {"accuracy": a, "latency_ms": t} for k, (a, t) in DECK.items()}


def test_deck_example_picks_b_under_100_ms():
    selection = choose(MEASURED, "accuracy", {"latency_ms": 100})
    assert selection.chosen == "B"
    assert sorted(selection.feasible) == ["A", "B", "C", "F"]
    # without the constraint the deck's E wins; with a tighter one, F
    assert choose(MEASURED, "accuracy", {}).chosen == "E"
    assert choose(MEASURED, "accuracy", {"latency_ms": 65}).chosen == "F"
    assert choose(MEASURED, "accuracy", {"latency_ms": 10}).chosen is None
    # optimise latency subject to an accuracy floor
    assert choose(MEASURED, "latency_ms", {"accuracy_min": 0.95}).chosen == "B"


def test_constraint_is_strict_like_the_deck():
    assert (
        choose({"x": {"accuracy": 1.0, "latency_ms": 100.0}}, satisfy={"latency_ms": 100}).chosen
        is None
    )


def test_select_model_with_injected_latency(digits):
    small, big = dense_model(units=4, seed=1), dense_model(units=64, seed=2)
    for m in (small, big):
        m.fit(digits.x_train, digits.y_train, epochs=5, batch_size=32, verbose=0)
    injected = {id(small): 30.0, id(big): 250.0}
    selection = select_model(
        {"small": small, "big": big},
        digits,
        "accuracy",
        {"latency_ms": 100},
        measure=lambda model, x: injected[id(model)],
    )
    m = selection.measurements
    assert m["big"]["accuracy"] > m["small"]["accuracy"]  # the accurate one is too slow
    assert selection.chosen == "small" and m["small"]["latency_ms"] == 30.0
    assert m["big"]["parameters"] == big.count_params()
    loose = select_model(
        {"small": small, "big": big},
        digits,
        satisfy={"latency_ms": 1000},
        measure=lambda model, x: injected[id(model)],
    )
    assert loose.chosen == "big"


def test_measure_latency_takes_the_median():
    clock_values = []
    t = 0.0
    for d in [0.002, 0.003, 0.500, 0.004, 0.001]:
        clock_values += [t, t + d]
        t += 1
    clock = iter(clock_values).__next__
    model = lambda batch, training=False: np.zeros((len(batch), 2))  # noqa: E731
    ms = measure_latency(model, np.zeros((4, 3)), repeats=5, warmup=1, clock=clock)
    assert ms == pytest.approx(3.0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"optimize": "speed"}, "unknown metric 'speed'"),
        ({"satisfy": {"memory": 3}}, "unknown metric 'memory'"),
        ({"satisfy": {"latency_ms": float("nan")}}, "finite number"),
    ],
)
def test_bad_input(digits, kwargs, message):
    with pytest.raises(ValueError, match=message):
        select_model({"m": dense_model()}, digits, **kwargs)
    with pytest.raises(ValueError, match="non-empty"):
        select_model({}, digits)
    with pytest.raises(ValueError, match="no measurement of latency_ms"):
        choose({"a": {"accuracy": 1.0}}, satisfy={"latency_ms": 1})
