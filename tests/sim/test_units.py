import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.errors import ConfigError
from sim.units import parse_bandwidth, parse_duration, parse_probability, parse_rate, parse_size


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5ms", 0.005), ("2s", 2.0), ("1.5m", 90.0), ("250us", 0.00025), (0.1, 0.1), ("3", 3.0)],
)
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["-5ms", -1, "fast", "5 parsecs", True, None, float("nan")])
def test_bad_durations_name_param_and_value(bad: object) -> None:
    with pytest.raises(ConfigError) as info:
        parse_duration(bad, "latency")
    assert info.value.param == "latency"
    assert "latency" in str(info.value) and "found" in str(info.value)


def test_rates_sizes_bandwidths() -> None:
    assert parse_rate("100/s") == 100.0
    assert parse_rate("1/ms") == 1000.0
    assert parse_size("1MB") == 1_000_000
    assert parse_size("1KiB") == 1024
    assert parse_bandwidth("8Mbps") == 1_000_000.0
    with pytest.raises(ConfigError):
        parse_bandwidth("0Mbps")
    with pytest.raises(ConfigError):
        parse_rate("100/parsec")


@pytest.mark.parametrize("bad", [1.5, -0.1, "x", True])
def test_probability_bounds(bad: object) -> None:
    with pytest.raises(ConfigError, match=r"must be a probability in \[0, 1\], found"):
        parse_probability(bad, "loss")


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_millisecond_strings_scale(x: float) -> None:
    assert parse_duration(f"{x!r}ms") == pytest.approx(x / 1000)
