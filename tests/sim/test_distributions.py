import random
import statistics

import pytest

from sim.distributions import (
    Constant,
    Exponential,
    LogNormal,
    Normal,
    Pareto,
    Uniform,
    distribution_from_spec,
)
from sim.errors import ConfigError

N = 20_000


def draws(dist: object) -> list[float]:
    rng = random.Random(42)
    return [dist.sample(rng) for _ in range(N)]  # type: ignore[attr-defined]


def test_uniform_bounds_and_mean() -> None:
    xs = draws(Uniform(0.01, 0.03))
    assert min(xs) >= 0.01 and max(xs) <= 0.03
    assert statistics.fmean(xs) == pytest.approx(0.02, rel=0.02)


def test_exponential_minimum_and_mean() -> None:
    xs = draws(Exponential(0.01, 0.002))
    assert min(xs) >= 0.002
    assert statistics.fmean(xs) == pytest.approx(0.012, rel=0.05)


def test_normal_is_truncated_not_clamped() -> None:
    xs = draws(Normal(0.001, 0.002))
    assert min(xs) >= 0
    # Clamping would pile mass at exactly zero; redrawing does not.
    assert xs.count(0.0) == 0


def test_lognormal_median_and_pareto_floor() -> None:
    xs = draws(LogNormal.from_median("10ms", 0.5))
    assert statistics.median(xs) == pytest.approx(0.01, rel=0.05)
    ys = draws(Pareto(0.005, 2.5))
    assert min(ys) >= 0.005
    assert statistics.fmean(ys) == pytest.approx(0.005 * 2.5 / 1.5, rel=0.1)


def test_constant() -> None:
    assert set(draws(Constant("3ms"))) == {0.003}


def test_specs() -> None:
    assert distribution_from_spec("10ms") == Constant(0.01)
    assert distribution_from_spec({"exponential": {"mean": "10ms", "min": "1ms"}}) == Exponential(
        0.01, 0.001
    )
    assert distribution_from_spec({"lognormal": {"median": 1, "sigma": 0.1}}).mu == 0.0
    assert distribution_from_spec({"uniform": {"low": 0, "high": "1ms"}}) == Uniform(0, 0.001)


@pytest.mark.parametrize(
    ("spec", "param", "found"),
    [
        ("-5ms", "latency", "-5ms"),
        ({"exponential": {"mean": -1}}, "latency: exponential.mean", -1),
        ({"uniform": {"low": "x", "high": 1}}, "latency: uniform.low", "x"),
        ({"normal": {"mean": 1, "stdev": 1}}, "latency: normal", "stdev"),
        ({"gamma": {"k": 1}}, "latency", "gamma"),
        ({"pareto": {"scale": 1, "shape": 0}}, "latency: pareto.shape", 0.0),
    ],
)
def test_bad_specs_name_param_and_value(spec: object, param: str, found: object) -> None:
    with pytest.raises(ConfigError) as info:
        distribution_from_spec(spec)
    assert info.value.param == param
    assert info.value.found == found
    assert repr(found) in str(info.value)
