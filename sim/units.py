"""Parsing of durations, rates, sizes and bandwidths given as numbers or strings.

Simulated time is a float number of **seconds** everywhere in the engine; sizes are bytes.

>>> parse_duration("5ms"), parse_duration("2s"), parse_duration("1.5m"), parse_duration(0.1)
(0.005, 2.0, 90.0, 0.1)
>>> parse_duration("250us")
0.00025
>>> parse_rate("100/s"), parse_rate("5/ms")
(100.0, 5000.0)
>>> parse_size("1MB"), parse_size("2KiB"), parse_bandwidth("1Mbps"), parse_bandwidth("2KB/s")
(1000000, 2048, 125000.0, 2000.0)
"""

from __future__ import annotations

import math
import re
from typing import Any

from sim.errors import ConfigError

__all__ = ["parse_bandwidth", "parse_duration", "parse_probability", "parse_rate", "parse_size"]

_DURATION_UNITS = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0,
    "m": 60.0, "min": 60.0, "h": 3600.0,
}
_SIZE_UNITS = {
    "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3,
}
# Bits per second (network convention), converted to bytes per second.
_BITRATE_UNITS = {"bps": 1 / 8, "kbps": 1e3 / 8, "mbps": 1e6 / 8, "gbps": 1e9 / 8}
_NUMBER_UNIT = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([A-Za-zµ/]*)\s*$")


def _split(value: str, param: str, expected: str) -> tuple[float, str]:
    match = _NUMBER_UNIT.match(value)
    if match is None:
        raise ConfigError(param, expected, value)
    return float(match.group(1)), match.group(2)


def _check_number(value: Any, param: str, expected: str) -> float:
    # bool is an int subclass; `latency: true` is a mistake, not one second.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(param, expected, value)
    number = float(value)
    if math.isnan(number) or math.isinf(number) or number < 0:
        raise ConfigError(param, expected, value)
    return number


def parse_duration(value: Any, param: str = "duration") -> float:
    """Seconds from a non-negative number of seconds or a string like ``"5ms"``."""
    expected = "must be a non-negative duration (seconds or a string like '5ms')"
    if isinstance(value, str):
        number, unit = _split(value, param, expected)
        factor = _DURATION_UNITS.get(unit or "s")
        if factor is None:
            raise ConfigError(param, expected, value)
        if number < 0:
            raise ConfigError(param, expected, value)  # the text as given, e.g. '-5ms'
        value = number * factor
    return _check_number(value, param, expected)


def parse_window(value: str, param: str = "window") -> tuple[float, float]:
    """A stretch of simulated time ``"0.8s..2.5s"`` as (start, end) seconds, end after start.

    >>> parse_window("800ms..2.5s")
    (0.8, 2.5)
    """
    expected = "must be START..END with END after START (for example '0.8s..2.5s')"
    if not isinstance(value, str) or value.count("..") != 1:
        raise ConfigError(param, expected, value)
    start, end = (parse_duration(part.strip(), param) for part in value.split(".."))
    if not end > start:
        raise ConfigError(param, expected, value)
    return start, end


def parse_rate(value: Any, param: str = "rate") -> float:
    """Events per second from a number or a string like ``"100/s"`` or ``"3/ms"``."""
    expected = "must be a non-negative rate (per second, or a string like '100/s')"
    if isinstance(value, str):
        number, unit = _split(value, param, expected)
        if not unit.startswith("/") or unit[1:] not in _DURATION_UNITS or number < 0:
            raise ConfigError(param, expected, value)
        value = number / _DURATION_UNITS[unit[1:]]
    return _check_number(value, param, expected)


def parse_size(value: Any, param: str = "size") -> int:
    """Bytes from a non-negative integer or a string like ``"1MB"`` / ``"4KiB"``."""
    expected = "must be a non-negative size in bytes (or a string like '1MB')"
    if isinstance(value, str):
        number, unit = _split(value, param, expected)
        factor = _SIZE_UNITS.get((unit or "b").lower())
        if factor is None or number < 0:
            raise ConfigError(param, expected, value)
        value = number * factor
    return int(_check_number(value, param, expected))


def parse_bandwidth(value: Any, param: str = "bandwidth") -> float:
    """Bytes per second from a number or a string like ``"1Mbps"`` (bits) or ``"2MB/s"``."""
    expected = "must be a positive bandwidth (bytes/s, or a string like '1Mbps' or '2MB/s')"
    if isinstance(value, str):
        number, unit = _split(value, param, expected)
        lowered = unit.lower()
        if lowered in _BITRATE_UNITS:
            value = number * _BITRATE_UNITS[lowered]
        elif lowered.endswith("/s") and lowered[:-2] in _SIZE_UNITS:
            value = number * _SIZE_UNITS[lowered[:-2]]
        else:
            raise ConfigError(param, expected, value)
        if number < 0:
            raise ConfigError(param, expected, value)
    result = _check_number(value, param, expected)
    if result == 0:
        raise ConfigError(param, expected, value)
    return result


def parse_probability(value: Any, param: str = "probability") -> float:
    """A float in [0, 1]; anything else is a :class:`ConfigError`."""
    expected = "must be a probability in [0, 1]"
    number = _check_number(value, param, expected)
    if number > 1:
        raise ConfigError(param, expected, value)
    return number
