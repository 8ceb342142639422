"""Errors that name where the bad input is, for messages a user can act on."""

from __future__ import annotations


class InputError(Exception):
    """Bad input: says which file, record and line (where known) and what is wrong."""

    def __init__(self, message: str, path=None, record: str | None = None, line: int | None = None):
        self.message, self.path, self.record, self.line = message, path, record, line
        where = [f"{path}" if path is not None else None,
                 f"line {line}" if line is not None else None,
                 f"record {record!r}" if record is not None else None]
        prefix = ", ".join(w for w in where if w)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ConfigError(Exception):
    """A configuration value is missing, of the wrong type or inconsistent."""


def open_input(path, what: str, **kwargs):
    """Open ``path`` for reading; an OS error becomes an InputError naming the file and ``what`` it is."""
    try:
        return open(path, **kwargs)
    except OSError as exc:
        raise InputError(f"cannot read {what}: {exc.strerror or exc}", path) from None


def read_input_text(path, what: str) -> str:
    """The whole text of ``path``; an OS error becomes an InputError as in open_input."""
    with open_input(path, what) as handle:
        try:
            return handle.read()
        except OSError as exc:
            raise InputError(f"cannot read {what}: {exc.strerror or exc}", path) from None
