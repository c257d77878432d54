"""The conformance checks themselves can fail: each catches the broken object it is meant for."""

import itertools

import pytest

from automl_kit.testing import (
    check_config_round_trip,
    check_rejects,
    check_result_contract,
    check_seeded_determinism,
)


class Lossy:
    """from_config drops a setting: the round trip must notice."""

    def __init__(self, rate=0.5, depth=2):
        self.rate, self.depth = rate, depth

    def get_config(self):
        return {"rate": self.rate, "depth": self.depth}

    @classmethod
    def from_config(cls, config):
        return cls(rate=config["rate"])


class Result:
    def __init__(self, suffix):
        self.suffix = suffix

    def summary(self):
        return {"accuracy": 0.9}

    def save(self, run_dir):
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / f"result{self.suffix}").write_text("{}")


def test_config_round_trip_catches_a_lossy_from_config():
    check_config_round_trip(Lossy(depth=2))  # the default survives
    with pytest.raises(AssertionError, match="changes the config"):
        check_config_round_trip(Lossy(depth=5))


def test_seeded_determinism_catches_a_result_that_changes():
    counter = itertools.count()
    assert check_seeded_determinism(lambda seed: [seed, 1.5]) == [0, 1.5]
    with pytest.raises(AssertionError, match="two results"):
        check_seeded_determinism(lambda seed: next(counter))


def test_rejects_needs_the_error_and_a_message_that_names_a_fix():
    def bad():
        raise ValueError("labels are 1..10; subtract 1 so that they start at 0")

    check_rejects(bad, "subtract 1")
    with pytest.raises(AssertionError, match="nothing was raised"):
        check_rejects(lambda: None, "x")
    with pytest.raises(AssertionError, match="lacks"):
        check_rejects(bad, "validation_data")

    def terse():
        raise ValueError("bad")

    with pytest.raises(AssertionError, match="too short"):
        check_rejects(terse, "bad")


def test_result_contract_refuses_pickle(tmp_path):
    check_result_contract(Result(".json"), tmp_path / "ok")
    with pytest.raises(AssertionError, match="no pickle"):
        check_result_contract(Result(".pkl"), tmp_path / "pickled")
