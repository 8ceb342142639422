"""Reading the files of a model directory: any problem is an InputError naming the file and what is
wrong with it (missing, empty, truncated, not the expected structure), never a bare library error.
Imports no torch (the k-mer and sourmash models read their files with numpy)."""

from __future__ import annotations

import json
from numbers import Real
from pathlib import Path

from .errors import InputError

DAMAGED = "truncated or damaged? train the model again"


def read_bytes(path) -> bytes:
    """The bytes of ``path``, which must be there and not empty."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError("missing from the model directory", path) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path) from None
    if not data.strip():
        raise InputError(f"empty ({DAMAGED})", path)
    return data


def read_json(path) -> dict:
    """The JSON object in ``path``."""
    try:
        value = json.loads(read_bytes(path))
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno} ({DAMAGED})",
                         path) from None
    except UnicodeDecodeError:
        raise InputError(f"not valid JSON: not UTF-8 text ({DAMAGED})", path) from None
    if not isinstance(value, dict):
        raise InputError(f"expected a JSON object, found {type(value).__name__}", path)
    return value


def read_tensors(path, framework: str) -> dict:
    """Every tensor of the safetensors file ``path``: torch tensors (``framework`` "pt") or numpy
    arrays ("numpy")."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise InputError("missing from the model directory", path)
    if path.stat().st_size == 0:
        raise InputError(f"empty, 0 bytes ({DAMAGED})", path)
    try:
        with safe_open(str(path), framework=framework) as handle:
            return {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(f"not a readable safetensors file: {exc} ({DAMAGED})", path) from None


def _number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _names(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) and v for v in value)


WANTED = {
    "a number": _number,
    "an object": lambda value: isinstance(value, dict),
    "a list of numbers": lambda value: isinstance(value, list) and all(map(_number, value)),
    "a list of names": _names,  # strings, not empty
    "a list of distinct names": lambda value: _names(value) and len(set(value)) == len(value),
}


def entry(config: dict, key: str, path, wanted: str = "a number"):
    """``config[key]`` (``path``: the file it is from), which must be what ``wanted`` (a key of WANTED)
    says."""
    if key not in config:
        raise InputError(f"no {key!r}", path)
    if not WANTED[wanted](config[key]):
        raise InputError(f"{key!r} must be {wanted}, not {json.dumps(config[key])[:80]}", path)
    return config[key]
