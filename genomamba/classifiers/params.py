"""Checking a classifier's params: one set of rules and one error style for every kind.

``checked_params(params, defaults)`` fills in the defaults and checks each value against the type
of its default: a bool wants a bool, an int an integer, a float any number, a str a string, a list
a non-empty list of positive numbers; numbers must not be negative. A kind's resolver then checks
its own ranges and relations with ``require``. Every problem is a ConfigError that names the
parameter, says what was expected and shows what was given:

    unknown parameter(s) windows; known: k, window_length, ...
    parameter k: expected an integer in 4..8, got 12
"""

from __future__ import annotations

from ..errors import ConfigError


def check_known(params: dict, known) -> None:
    """A key of ``params`` that is not in ``known`` is a ConfigError listing the known ones."""
    unknown = [key for key in params if key not in known]
    if unknown:
        raise ConfigError(f"unknown parameter(s) {', '.join(sorted(unknown))}; known: {', '.join(known)}")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _expected(default) -> str:
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, int):
        return "a non-negative integer"
    if isinstance(default, float):
        return "a non-negative number"
    if isinstance(default, str):
        return "a string"
    return "a list of positive numbers"


def _fits(value, default) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if isinstance(default, float):
        return _is_number(value) and value >= 0
    if isinstance(default, str):
        return isinstance(value, str)
    return isinstance(value, list) and bool(value) and all(_is_number(v) and v > 0 for v in value)


def checked_params(params: dict | None, defaults: dict) -> dict:
    """``params`` over ``defaults`` (in the order of ``defaults``), each value checked against the
    type of its default (see the module docstring)."""
    params = dict(params or {})
    check_known(params, defaults)
    merged = {**defaults, **params}
    for key, value in merged.items():
        if not _fits(value, defaults[key]):
            raise ConfigError(f"parameter {key}: expected {_expected(defaults[key])}, got {value!r}")
    return merged


def require(condition: bool, key: str, expected: str, value) -> None:
    """A ConfigError in the common style unless ``condition``: ``parameter KEY: expected ..., got ...``."""
    if not condition:
        raise ConfigError(f"parameter {key}: expected {expected}, got {value!r}")
