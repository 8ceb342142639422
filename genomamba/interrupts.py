"""SIGINT and SIGTERM as an exception, so that an interrupted command unwinds and leaves nothing
half-written.

Within ``handled()``, the first of these signals raises ``Interrupted`` in the main thread: every
``with`` block unwinds and genomamba.atomic removes its temporary outputs. Later ones are ignored, so
that nothing cuts that clean-up short.

Python runs a signal handler between any two bytecodes of the main thread, also inside a finaliser
(``__del__``, a weakref callback), where an exception is dropped (and reported, which ``handled()``
keeps quiet for this one). The signal is therefore also remembered: ``check()`` raises it again, and
genomamba.atomic calls it before moving an output into place, so an interrupted command never
commits an output, wherever the first exception went.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_received: int | None = None


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived (``signum``)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _handler(signum, frame):
    global _received
    if _received is None:
        _received = signum
        raise Interrupted(signum)


def check() -> None:
    """Raise ``Interrupted`` if one of the signals arrived within ``handled()``."""
    if _received is not None:
        raise Interrupted(_received)


@contextlib.contextmanager
def handled():
    """Within this block, SIGINT and SIGTERM raise ``Interrupted`` (only in the main thread, the one
    Python runs signal handlers in; elsewhere nothing changes). The previous handlers come back at
    the end."""
    global _received
    _received = None
    main_thread = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, _handler) for s in SIGNALS} if main_thread else {}
    report = sys.unraisablehook

    def report_others(unraisable):
        if not isinstance(unraisable.exc_value, Interrupted):   # check() raises that one again
            report(unraisable)

    sys.unraisablehook = report_others
    try:
        yield
    finally:
        sys.unraisablehook = report
        for s, handler in previous.items():
            signal.signal(s, handler)
        _received = None   # outside the block a signal is not this command's
