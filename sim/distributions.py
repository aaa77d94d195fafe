"""Latency distributions: frozen records with ``sample(rng) -> seconds``.

Parameters are validated when the record is built (negative or non-numeric values raise
:class:`~sim.errors.ConfigError` naming the parameter); nothing is silently clamped.

>>> import random
>>> rng = random.Random(1)
>>> Constant(0.005).sample(rng)
0.005
>>> 0.001 <= Uniform(0.001, 0.002).sample(rng) <= 0.002
True
>>> distribution_from_spec("10ms")
Constant(value=0.01)
>>> distribution_from_spec({"exponential": {"mean": "10ms", "min": "1ms"}})
Exponential(mean=0.01, minimum=0.001)
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from sim.errors import ConfigError
from sim.units import parse_duration

__all__ = [
    "Constant",
    "Distribution",
    "Exponential",
    "LogNormal",
    "Normal",
    "Pareto",
    "Uniform",
    "distribution_from_spec",
]


@runtime_checkable
class Distribution(Protocol):
    """Anything with ``sample(rng) -> float`` (a non-negative number of seconds)."""

    def sample(self, rng: random.Random) -> float: ...


def _positive(value: float, param: str) -> None:
    if not value > 0:
        raise ConfigError(param, "must be a positive number", value)


def _finite(value: Any, param: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(param, "must be a finite number", value)
    return float(value)


@dataclass(frozen=True, slots=True)
class Constant:
    """Always ``value`` seconds."""

    value: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", parse_duration(self.value, "constant.value"))

    def sample(self, rng: random.Random) -> float:
        return self.value


@dataclass(frozen=True, slots=True)
class Uniform:
    """Uniform on ``[low, high]``."""

    low: float
    high: float

    def __post_init__(self) -> None:
        low = parse_duration(self.low, "uniform.low")
        high = parse_duration(self.high, "uniform.high")
        if high < low:
            raise ConfigError("uniform.high", f"must be >= low ({low})", high)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    def sample(self, rng: random.Random) -> float:
        return self.low + (self.high - self.low) * rng.random()


@dataclass(frozen=True, slots=True)
class Exponential:
    """``minimum`` plus an exponential with mean ``mean``.

    The sample is ``minimum + Exp(mean)``, so its expectation is ``minimum + mean``; a minimum
    models the propagation floor under a queueing tail.
    """

    mean: float
    minimum: float = 0.0

    def __post_init__(self) -> None:
        mean = parse_duration(self.mean, "exponential.mean")
        _positive(mean, "exponential.mean")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "minimum", parse_duration(self.minimum, "exponential.min"))

    def sample(self, rng: random.Random) -> float:
        return self.minimum + rng.expovariate(1.0 / self.mean)


@dataclass(frozen=True, slots=True)
class Normal:
    """Normal(mean, std) truncated at zero: negative draws are redrawn, never clamped."""

    mean: float
    std: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", parse_duration(self.mean, "normal.mean"))
        object.__setattr__(self, "std", parse_duration(self.std, "normal.std"))

    def sample(self, rng: random.Random) -> float:
        # mean >= 0 so each draw is accepted with probability >= 1/2.
        while True:
            x = rng.gauss(self.mean, self.std)
            if x >= 0:
                return x


@dataclass(frozen=True, slots=True)
class LogNormal:
    """exp(Normal(mu, sigma)) seconds; build from a median with :meth:`from_median`."""

    mu: float
    sigma: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "mu", _finite(self.mu, "lognormal.mu"))
        sigma = _finite(self.sigma, "lognormal.sigma")
        if sigma < 0:
            raise ConfigError("lognormal.sigma", "must be a non-negative number", sigma)
        object.__setattr__(self, "sigma", sigma)

    @classmethod
    def from_median(cls, median: Any, sigma: float) -> LogNormal:
        value = parse_duration(median, "lognormal.median")
        _positive(value, "lognormal.median")
        return cls(math.log(value), sigma)

    def sample(self, rng: random.Random) -> float:
        return rng.lognormvariate(self.mu, self.sigma)


@dataclass(frozen=True, slots=True)
class Pareto:
    """Pareto with minimum ``scale`` seconds and tail index ``shape`` (heavy tail)."""

    scale: float
    shape: float

    def __post_init__(self) -> None:
        scale = parse_duration(self.scale, "pareto.scale")
        _positive(scale, "pareto.scale")
        shape = _finite(self.shape, "pareto.shape")
        _positive(shape, "pareto.shape")
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "shape", shape)

    def sample(self, rng: random.Random) -> float:
        return self.scale * rng.paretovariate(self.shape)


# name -> (constructor, {spec key: constructor keyword})
_SPECS: dict[str, tuple[Any, dict[str, str]]] = {
    "constant": (Constant, {"value": "value"}),
    "uniform": (Uniform, {"low": "low", "high": "high"}),
    "exponential": (Exponential, {"mean": "mean", "min": "minimum"}),
    "normal": (Normal, {"mean": "mean", "std": "std"}),
    "pareto": (Pareto, {"scale": "scale", "shape": "shape"}),
}


def distribution_from_spec(spec: Any, param: str = "latency") -> Distribution:
    """Build a distribution from a number, a duration string or ``{name: {params}}``.

    Unknown names and unknown parameter keys are rejected.
    """
    if isinstance(spec, Distribution) and not isinstance(spec, str | int | float):
        return spec
    if isinstance(spec, str | int | float) and not isinstance(spec, bool):
        return Constant(parse_duration(spec, param))
    names = sorted(_SPECS) + ["lognormal"]
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise ConfigError(param, f"must be a duration or a mapping with one of {names}", spec)
    ((name, params),) = spec.items()
    if not isinstance(params, Mapping):
        raise ConfigError(f"{param}.{name}", "must be a mapping of parameters", params)
    if name not in _SPECS and name != "lognormal":
        raise ConfigError(param, f"must name one of {names}", name)
    try:
        if name == "lognormal":
            return _lognormal(params)
        cls, keys = _SPECS[name]
        unknown = sorted(set(params) - set(keys))
        if unknown:
            raise ConfigError(name, f"accepts only {sorted(keys)}", unknown[0])
        missing = [k for k in keys if k not in params and not (name, k) == ("exponential", "min")]
        if missing:
            raise ConfigError(name, f"needs parameter {missing[0]!r}", dict(params))
        return cls(**{keys[k]: v for k, v in params.items()})
    except ConfigError as err:
        raise err.prefixed(param) from None


def _lognormal(params: Mapping[str, Any]) -> LogNormal:
    keys = set(params)
    if keys == {"mu", "sigma"}:
        return LogNormal(params["mu"], params["sigma"])
    if keys == {"median", "sigma"}:
        return LogNormal.from_median(params["median"], params["sigma"])
    raise ConfigError("lognormal", "takes {mu, sigma} or {median, sigma}", sorted(keys))
