"""Write outputs under a temporary name and move them into place, so nothing half-written remains.

A temporary output sits beside its final path as ``.NAME.genomamba-tmp-HOST-PID-RANDOM[SUFFIX]``;
an old output being replaced is moved aside to ``.NAME.genomamba-old-HOST-PID-RANDOM`` for the
moment of the swap. Both go when the writing process ends, also on SIGINT/SIGTERM
(genomamba.interrupts turns those into exceptions). A process killed outright (SIGKILL, power loss)
leaves them behind: the next output written into the same folder removes those of this host whose
process is gone (a ``old`` one whose final path is missing is moved back instead). Nothing else is
ever removed; what may be replaced at the final path is genomamba.outputs' decision.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import secrets
import shutil
import socket
from pathlib import Path

from . import interrupts, outputs
from .errors import InputError

HOST = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname().split(".")[0])[:24] or "host"
TEMP = re.compile(r"\.(?P<name>.+)\.genomamba-(?P<role>tmp|old)-(?P<host>[A-Za-z0-9]+)-(?P<pid>[0-9]+)"
                  r"-[0-9a-f]{8}(?:\.[A-Za-z0-9]+)?")
# Temporary outputs of bodies that failed: removed at once, and again at exit, after the interpreter
# has joined its worker threads (zarr writes a store's chunks from a thread pool, which may still
# create files in a temporary store for a moment after the main thread was interrupted).
_abandoned: set[Path] = set()


def temp_name(name: str, role: str = "tmp", suffix: str = "") -> str:
    """A fresh recognisable name for a temporary (``tmp``) or moved-aside (``old``) output."""
    return f".{name}.genomamba-{role}-{HOST}-{os.getpid()}-{secrets.token_hex(4)}{suffix}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _remove(path: Path) -> None:
    """Remove a file, symlink or directory tree that genomamba wrote (the link, not its target)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def remove_stale(folder) -> list[Path]:
    """Remove (or, for a moved-aside old output whose final path is missing, move back) the temporary
    outputs in ``folder`` left by processes of this host that are gone; returns what it touched."""
    touched = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return touched
    for entry in entries:
        match = TEMP.fullmatch(entry.name)
        if not match or match["host"] != HOST or _alive(int(match["pid"])):
            continue
        path = Path(folder) / entry.name
        final = Path(folder) / match["name"]
        with contextlib.suppress(OSError):
            if match["role"] == "old" and not os.path.lexists(final):
                os.rename(path, final)
            else:
                _remove(path)
            touched.append(path)
    return touched


def _commit(tmp: Path, final: Path, shown, force: bool) -> None:
    """Move ``tmp`` to ``final``, replacing what is there if genomamba.outputs allows it."""
    interrupts.check()  # an interrupted command commits nothing, even if its exception was dropped
    if not os.path.lexists(tmp):
        raise FileNotFoundError(f"nothing was written to the temporary output {tmp}")
    kind = "file" if not tmp.is_dir() else outputs.found_kind(tmp)
    reason = outputs.refusal(final, kind, force)
    if reason:
        raise InputError(reason, shown)
    found = outputs.found_kind(final)
    if found is None or (found == "file" and kind == "file"):
        os.replace(tmp, final)
        return
    aside = final.with_name(temp_name(final.name, "old"))
    os.rename(final, aside)
    try:
        os.rename(tmp, final)
    except BaseException:
        os.rename(aside, final)
        raise
    _remove(aside)


@contextlib.contextmanager
def atomic_path(final, suffix: str = "", *, force: bool = False):
    """Yield a temporary path beside ``final``; on success move it to ``final``, on any error or
    interruption remove it.

    Works for files and directories (a zarr store, a model directory): whatever the body creates at
    the temporary path replaces ``final`` as a whole, where genomamba.outputs allows (``force``, or
    --force given for ``final`` to genomamba.outputs.check_output, allows another kind).
    """
    shown = final
    final = Path(os.path.abspath(final))
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the output's folder: {exc.strerror or exc}", shown) from None
    remove_stale(final.parent)
    tmp = final.with_name(temp_name(final.name, "tmp", suffix))
    try:
        yield tmp
        _commit(tmp, final, shown, force or outputs.forced(final))
    except BaseException:
        _abandoned.add(tmp)
        _remove(tmp)
        raise


@atexit.register
def _remove_abandoned() -> None:
    for path in _abandoned:
        _remove(path)


@contextlib.contextmanager
def atomic_open(final, mode: str = "w", **kwargs):
    """Open a file for writing that appears at ``final`` only once it is complete."""
    with atomic_path(final) as tmp, open(tmp, mode, **kwargs) as fh:
        yield fh
