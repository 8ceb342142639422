"""Unreadable inputs become InputErrors naming the file, for the readers that share errors.py."""

import pytest

from genomamba.cli import main
from genomamba.errors import InputError, open_input, read_input_text


def test_missing_and_directory_inputs_name_the_file(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(InputError, match="cannot read metrics") as info:
        read_input_text(missing, "metrics")
    assert str(missing) in str(info.value)
    with pytest.raises(InputError, match="cannot read calls table"):
        open_input(tmp_path, "calls table")  # a directory
    good = tmp_path / "ok.txt"
    good.write_text("hello\n")
    assert read_input_text(good, "anything") == "hello\n"


def test_figures_and_report_fail_cleanly_on_a_missing_input(tmp_path, capsys):
    missing = tmp_path / "missing.json"
    assert main(["figures", "--metrics", str(missing), "-o", str(tmp_path / "figs")]) != 0
    assert str(missing) in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert main(["figures", "--metrics", str(broken), "-o", str(tmp_path / "figs")]) != 0
    err = capsys.readouterr().err
    assert str(broken) in err and "line 1" in err
    assert not (tmp_path / "figs").exists() or not any((tmp_path / "figs").iterdir())
