"""The intervals of genomamba/stats.py."""

import pytest

from genomamba.stats import bootstrap_rate, wilson


def test_wilson_is_inside_zero_one_and_known_values():
    assert wilson(0, 0) is None
    low, high = wilson(0, 10)
    assert low == 0 and 0.27 < high < 0.28          # 0 of 10: up to 27.8%
    low, high = wilson(10, 10)
    assert 0.72 < low < 0.73 and high == pytest.approx(1)
    low, high = wilson(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-4) and high == pytest.approx(0.5962, abs=1e-4)


def test_bootstrap_over_genomes_is_seeded_and_never_narrower_than_the_genomes_allow():
    groups = [(95, 100), (40, 50), (180, 200), (9, 10)]
    assert bootstrap_rate(groups, seed=3) == bootstrap_rate(groups, seed=3)
    low, high = bootstrap_rate(groups, seed=3)
    assert low < (95 + 40 + 180 + 9) / 360 < high
    # every genome all right: the resamples cannot vary, the interval is that of 3 independent genomes
    low, high = bootstrap_rate([(10, 10), (20, 20), (5, 5)], seed=1)
    assert high == pytest.approx(1) and low == pytest.approx(wilson(3, 3)[0])
    assert bootstrap_rate([(10, 10)], seed=1) is None   # one genome: no spread between genomes
