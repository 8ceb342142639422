"""Progress bars (tqdm) on stderr, shown only where someone watches: when stderr is a terminal,
unless the command line chose otherwise (``--progress`` / ``--no-progress``, given to ``choose``).

``Bases`` counts the bases a command has read, with their rate and, where the size of the work is
known, a percentage and the time left; ``Steps`` counts training steps. Both work as no-ops when
not shown. ``message`` prints a line on stderr without breaking a bar that is being drawn.
"""

from __future__ import annotations

import sys
import time

_choice: bool | None = None  # None: show a bar only when stderr is a terminal
_active: list = []  # the tqdm bars being drawn


def choose(show: bool | None) -> None:
    """Show bars always (True), never (False), or only on a terminal (None)."""
    global _choice
    _choice = show


def shown() -> bool:
    return sys.stderr.isatty() if _choice is None else _choice


def message(text: str) -> None:
    """Print ``text`` on stderr, above the bar if one is drawn."""
    if _active:
        _active[-1].write(text, file=sys.stderr)
    else:
        print(text, file=sys.stderr, flush=True)


def add_arguments(parser) -> None:
    """``--progress`` / ``--no-progress``; the default shows a bar only when stderr is a terminal."""
    bar = parser.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None,
                     help="show a progress bar on stderr even when it is not a terminal")
    bar.add_argument("--no-progress", dest="progress", action="store_false",
                     help="never show a progress bar (default: only when stderr is a terminal)")


class _Bar:
    def __init__(self, show: bool | None = None, **options):
        self._bar = None
        if shown() if show is None else show:
            from tqdm import tqdm
            self._bar = tqdm(file=sys.stderr, dynamic_ncols=True, **options)
            _active.append(self._bar)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            _active.remove(self._bar)
            self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Bases(_Bar):
    """Bases read so far and their rate. With ``total``, the size of the work in any unit (bases,
    or the bytes of the input files), ``update``'s ``at`` says how far the work is in that unit
    (default: the bases), which gives the percentage and the time left. ``show`` overrides
    ``choose``."""

    def __init__(self, desc: str, total: int | None = None, show: bool | None = None):
        form = ("{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]" if total
                else "{desc}: [{elapsed}{postfix}]")
        super().__init__(show, desc=desc, total=total or None, bar_format=form)
        self.bases, self._started = 0, time.monotonic()

    def update(self, bases: int, at: int | None = None) -> None:
        self.bases += bases
        if self._bar is None:
            return
        from tqdm import tqdm
        rate = self.bases / max(time.monotonic() - self._started, 1e-9)
        self._bar.set_postfix_str(f"{tqdm.format_sizeof(self.bases)}bp, {tqdm.format_sizeof(rate)}bp/s",
                                  refresh=False)
        at = self.bases if at is None else at
        self._bar.update(at - self._bar.n)


class Steps(_Bar):
    """Training steps from ``start`` to ``end``, with steps/s and the time left."""

    def __init__(self, desc: str, start: int, end: int, show: bool | None = None):
        super().__init__(show, desc=desc, total=end, initial=start, unit="step")

    def update(self, steps: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(steps)
