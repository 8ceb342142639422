"""Write outputs under a temporary name and move them into place, so nothing half-written remains."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(final, suffix: str = ""):
    """Yield a temporary path beside ``final``; on success rename it to ``final``, on error remove it.

    Works for files and directories (a zarr store, a model directory): whatever the body creates at
    the temporary path replaces ``final`` as a whole.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=suffix + ".tmp", dir=final.parent)
    os.close(fd)
    os.unlink(tmp)
    tmp = Path(tmp)
    try:
        yield tmp
        if final.is_dir() and not final.is_symlink():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_open(final, mode: str = "w", **kwargs):
    """Open a file for writing that appears at ``final`` only once it is complete."""
    with atomic_path(final) as tmp, open(tmp, mode, **kwargs) as fh:
        yield fh
