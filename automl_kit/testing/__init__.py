"""Test support for capability authors: the conformance suite every main class passes."""

from automl_kit.testing.conformance import (
    check_config_round_trip,
    check_rejects,
    check_result_contract,
    check_result_round_trip,
    check_seeded_determinism,
)

__all__ = [
    "check_config_round_trip",
    "check_rejects",
    "check_result_contract",
    "check_result_round_trip",
    "check_seeded_determinism",
]
