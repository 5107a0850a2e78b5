"""Unit parsing (docs/scenario.md, units): every accepted form, and a clear refusal for a bare duration."""

import pytest

from meshsim.units import UnitError, parse_bandwidth, parse_duration, parse_rate, parse_ratio, parse_size


@pytest.mark.parametrize(
    "text,seconds", [("250ms", 0.25), ("1.5s", 1.5), ("2m", 120.0), ("100us", 1e-4), ("1h", 3600.0)]
)
def test_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


def test_bare_number_duration_asks_for_a_unit():
    with pytest.raises(UnitError, match="give a unit, e.g. 300ms"):
        parse_duration(300, "timeout")


def test_rates_sizes_ratios_bandwidth():
    assert parse_rate(500) == 500 and parse_rate("500/s") == 500 and parse_rate("30000/m") == pytest.approx(500)
    assert parse_size("2KB") == 2000 and parse_size("1.5MiB") == int(1.5 * 2**20) and parse_size(512) == 512
    assert parse_ratio(0.001) == 0.001 and parse_ratio("0.1%") == pytest.approx(0.001)
    assert parse_ratio("99.9%") == 0.999  # exact, so a limit of 99.9% is not off by 1e-16
    assert parse_bandwidth("10Gbps") == pytest.approx(1.25e9)


@pytest.mark.parametrize(
    "fn,value",
    [
        (parse_duration, "5 parsecs"),
        (parse_rate, "fast"),
        (parse_size, "2 XB"),
        (parse_ratio, "150%"),
        (parse_ratio, -0.1),
        (parse_bandwidth, "10"),
    ],
)
def test_bad_values(fn, value):
    with pytest.raises(UnitError):
        fn(value)
