"""Every parser ends in a result or a clear error on hostile input: never a traceback or a
hang (a fixed small budget here; bench/fuzz.py runs the same targets for minutes)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from fuzz_targets import TARGETS, run_one


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_parsers_survive_hostile_input(name):
    strategy, target = TARGETS[name]

    @settings(
        max_examples=60,
        deadline=2000,  # ms per input: a slow input is a finding too
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        database=None,
    )
    @given(strategy)
    def check(text: str) -> None:
        run_one(target, text)

    check()


@pytest.mark.parametrize(
    "text",
    [
        "!!binary fn!!binary a}? }asteps:\n? x\n",
        "? !!binary a\u00f7b\n: 1\n",
        "!=? a: 1\n",
        "{!!binary abcde: 1}\n",
    ],
)
def test_tagged_mapping_keys_are_load_errors(text):
    # Found by bench/fuzz.py: a key with a tag the loader cannot build escaped as a
    # ruamel ConstructorError.
    from gert.load import LoadError, parse_text

    with pytest.raises(LoadError, match="cannot read key"):
        parse_text(text, "f.yaml")
