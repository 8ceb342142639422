"""Where a command may write: one policy for every output path.

An output is of one kind: ``file`` (a table, FASTA, BAM, HTML ...), ``store`` (a genomamba zarr
store), ``model`` (a model or checkpoint directory) or ``folder`` (a folder the command writes files
into, e.g. the figures). What may already be at the path:

- nothing, or the same kind (a regular file where a file goes, a genomamba store where a store goes,
  a model directory where a model goes): replaced, so reruns work;
- a file, store or model directory of another kind: replaced only with ``--force``;
- any other directory: never replaced, ``--force`` or not (genomamba did not write it);
- anything else (a FIFO, a device): never replaced.

An output may not be an input, lie inside one or contain one. ``-`` is standard output, for the
commands whose output is a table or FASTA (``check_output(..., stdout=True)``; elsewhere it is
refused rather than taken for a file named ``-``); ``open_output`` writes it straight there, as it
goes: no temporary name, nothing to move into place. A store or model directory is
recognised as genomamba's by its marker: the store's group attribute ``format`` in ``zarr.json``;
a model's ``config.json`` with a ``kind`` beside its weights (``model.safetensors``,
``weights.safetensors`` or ``references.sig.json``, or a combined model's ``members`` folder; see
genomamba/checkpoint.py and genomamba/classifiers/).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
from pathlib import Path

from .errors import InputError

STORE_FORMAT = "genomamba-sequence-store"  # genomamba.store.FORMAT (not imported: that loads zarr)
MODEL_WEIGHTS = ("model.safetensors", "weights.safetensors", "references.sig.json")
MODEL_MEMBERS = "members"  # a combined model's member model directories (genomamba/classifiers/combined.py)
KINDS = ("file", "store", "model", "folder")
NAMES = {"file": "file", "store": "genomamba sequence store", "model": "genomamba model directory",
         "folder": "folder", "directory": "directory"}  # directory: what genomamba.atomic found it wrote

STDOUT = "-"  # the output name that means standard output
_forced: set[Path] = set()  # outputs whose replacement --force allowed (consulted by genomamba.atomic)


def _json_object(path: Path) -> dict:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def is_store(path) -> bool:
    """A directory holding a genomamba sequence store (zarr v3 group marked with our format)."""
    attributes = _json_object(Path(path) / "zarr.json").get("attributes")
    return isinstance(attributes, dict) and attributes.get("format") == STORE_FORMAT


def is_model(path) -> bool:
    """A model or checkpoint directory written by genomamba: config.json with a kind, and weights (or
    a combined model's members)."""
    path = Path(path)
    kind = _json_object(path / "config.json").get("kind")
    return isinstance(kind, str) and (any((path / name).is_file() for name in MODEL_WEIGHTS)
                                      or (path / MODEL_MEMBERS).is_dir())


def found_kind(path) -> str | None:
    """What is at ``path``: None (nothing), ``file`` (a regular file, or a symlink to one or to
    nothing: replacing it replaces only the link), ``store``, ``model``, ``directory`` (any other
    directory) or ``other``."""
    path = Path(path)
    if not os.path.lexists(path):
        return None
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "file"
    except OSError:
        return "other"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "store" if is_store(path) else "model" if is_model(path) else "directory"
    return "other"


def refusal(path, kind: str, force: bool = False) -> str | None:
    """Why an output of ``kind`` may not replace what is at ``path``, or None when it may."""
    found = found_kind(path)
    if found is None:
        return None
    if kind == "folder":
        return None if found in ("store", "model", "directory") else "exists and is not a folder"
    if found == "other":
        return "exists and is not a regular file or directory; not replaced"
    if found == "directory":
        if kind == "file":
            return "is a directory; give a file name (a directory is never replaced by a file)"
        return (f"is a directory that genomamba did not write (not a {NAMES['store']} or "
                f"{NAMES['model']}); it is never replaced, not even with --force")
    if found == kind or force:
        return None
    return f"is a {NAMES[found]}, not a {NAMES[kind]}; pass --force to replace it"


def _overlap(output: Path, source: Path) -> str | None:
    out, src = output.resolve(), source.resolve()
    if out == src or (output.exists() and source.exists() and os.path.samefile(output, source)):
        return f"is also an input ({source}); choose another output"
    if src in out.parents:
        return f"is inside the input {source}; choose another output"
    if out in src.parents:
        return f"contains the input {source}; choose another output"
    return None


def is_stdout(path) -> bool:
    return str(path) == STDOUT


def check_output(path, kind: str, inputs=(), force: bool = False, stdout: bool = False) -> Path:
    """Refuse (InputError naming ``path``) an output that overlaps an input, whose folder cannot
    hold it, or that may not replace what is there (see the module docstring). With ``force``,
    genomamba.atomic may later replace a file, store or model directory of another kind there.
    ``stdout``: the command can write this output to standard output (``-``)."""
    if kind not in KINDS:
        raise ValueError(f"unknown output kind {kind!r}")
    if is_stdout(path):
        if stdout:
            return Path(path)
        what = "a file" if kind == "file" else f"a {NAMES[kind]}"
        raise InputError(f"standard output (-) is not possible here: give {what} name (./- for a "
                         f"file named '-')", path)
    path = Path(path)
    for source in inputs:
        if source is not None:
            reason = _overlap(path, Path(source))
            if reason:
                raise InputError(reason, path)
    reason = refusal(path, kind, force)
    if reason:
        raise InputError(reason, path)
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"cannot write here: {parent} is not a folder", path)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"cannot write here: no permission to write into {parent}", path)
    if force:
        _forced.add(path.resolve())
    return path


@contextlib.contextmanager
def open_output(path, mode: str = "w", **kwargs):
    """Open an output file for writing: standard output for ``-`` (text or binary as ``mode`` says;
    left open), else genomamba.atomic's temporary file, moved into place when complete."""
    if is_stdout(path):
        stream = sys.stdout.buffer if "b" in mode else sys.stdout
        yield stream
        stream.flush()
        return
    from .atomic import atomic_open

    with atomic_open(path, mode, **kwargs) as fh:
        yield fh


def forced(path) -> bool:
    """Whether a command passed --force for ``path`` (check_output with force=True)."""
    return Path(path).resolve() in _forced


def add_force_argument(parser) -> None:
    parser.add_argument("--force", action="store_true",
                        help="replace an existing output of another kind (a file where a store or model "
                             "directory goes, or genomamba's store or model directory where a file goes); "
                             "a directory genomamba did not write is never replaced")
