"""Interrupted commands (genomamba/interrupts.py, genomamba/cli.py, genomamba/atomic.py): SIGINT and SIGTERM exit 130 and 143
with one line and leave no temporary output (an older output stays as it was); SIGKILL leaves one,
which the next command writing into that folder removes once its process is gone, and nothing else.

Each command reads a generated FASTA of a few Mb and is frozen (SIGSTOP) as soon as its temporary
output appears, so the signal always lands mid-write; a run that finished before it could be frozen
(a busy machine) is repeated with a larger input."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from genomamba import interrupts
from genomamba.atomic import HOST, TEMP, atomic_path
from genomamba.cli import main
from genomamba.classifiers.kmer import KmerClassifier
from genomamba.store import SequenceStore

from test_classify_support import LAYOUT, build_split

SMALL = Path(__file__).parent / "data" / "ecoli_DH1_slice.fa"


def write_fasta(path: Path, megabases: int, seed: int = 3) -> Path:
    """Records of 500 kb of seeded random bases, 80 per line."""
    rng = np.random.default_rng(seed)
    with open(path, "wb") as fh:
        for i in range(2 * megabases):
            lines = np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, 500_000)].reshape(-1, 80)
            newline = np.full((len(lines), 1), ord("\n"), np.uint8)
            fh.write(f">r{i}\n".encode() + np.hstack([lines, newline]).tobytes())
    return path


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if TEMP.fullmatch(p.name))


def wait_stopped(proc: subprocess.Popen) -> None:
    """Return once ``proc`` is frozen (or gone): SIGSTOP is delivered asynchronously, and a process
    still running on another core could finish its output between the signal and the next look."""
    stat = Path(f"/proc/{proc.pid}/stat")
    deadline = time.monotonic() + 10
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            state = stat.read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            time.sleep(0.1)  # no /proc (not Linux): a tenth of a second is ample for the stop to land
            return
        if state in "Tt":
            return
        time.sleep(0.0005)


def interrupt_mid_write(argv, fasta: Path, folder: Path, signum, prepare=lambda: None):
    """Run ``genomamba ARGV`` (which reads ``fasta``), freeze it while its temporary output is in
    ``folder``, send ``signum`` and let it go on; returns (exit status, stderr, pid)."""
    for megabases in (4, 16, 64):
        prepare()
        write_fasta(fasta, megabases)
        proc = subprocess.Popen([sys.executable, "-m", "genomamba.cli", *map(str, argv)],
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while not temporaries(folder) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        proc.send_signal(signal.SIGSTOP)
        wait_stopped(proc)
        if temporaries(folder):
            proc.send_signal(signum)
            proc.send_signal(signal.SIGCONT)
            rc = proc.wait(timeout=120)
            return rc, proc.stderr.read(), proc.pid
        proc.send_signal(signal.SIGCONT)
        assert proc.wait(timeout=120) == 0, proc.stderr.read()
    pytest.fail("the command always finished before it could be frozen mid-write")


def snapshot(path: Path) -> dict:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_tokenize_leaves_no_temporary_and_keeps_the_old_store(tmp_path, signum):
    out = tmp_path / "out.zarr"

    def old_store():
        shutil.rmtree(out, ignore_errors=True)
        assert main(["tokenize", str(SMALL), "-o", str(out), "--no-progress"]) == 0

    rc, err, _ = interrupt_mid_write(["tokenize", tmp_path / "big.fa", "-o", out, "--no-progress"],
                                     tmp_path / "big.fa", tmp_path, signum, old_store)
    name = signal.Signals(signum).name
    assert rc == 128 + signum, err
    assert err.strip().splitlines()[-1] == (f"genomamba tokenize: interrupted ({name}); nothing half-written "
                                            f"left at {out}")
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.fa", "out.zarr"]
    assert SequenceStore.open(out).attrs["sources"][0]["name"] == SMALL.name
    before = snapshot(out)
    old_store()
    assert snapshot(out) == before  # byte for byte the store it was


@pytest.mark.slow  # the classify process imports torch and scikit-learn: several seconds on a busy machine
def test_interrupted_classify_leaves_no_calls_table(tmp_path):
    split = build_split(tmp_path / "stores", [row for row in LAYOUT if row[0] == "Helicobacter pylori"
                                              or row[0] == "Staphylococcus aureus"])
    params = {"k": 4, "windows_per_strain": 10, "validation_windows_per_strain": 5, "window_length": 2000,
              "min_window_length": 500, "ood_lengths": [1000, 3000]}
    KmerClassifier.fit(split, params, seed=1, log=lambda *_: None).save(tmp_path / "model")
    calls = tmp_path / "calls"
    calls.mkdir()
    rc, err, _ = interrupt_mid_write(["classify", "--model", tmp_path / "model", calls / "big.fa", "-o",
                                      calls / "big.tsv"], calls / "big.fa", calls, signal.SIGTERM,
                                     lambda: (calls / "big.tsv").unlink(missing_ok=True))
    assert rc == 143 and "interrupted (SIGTERM)" in err
    assert sorted(p.name for p in calls.iterdir()) == ["big.fa"]


def test_a_killed_command_leaves_a_temporary_the_next_one_removes(tmp_path):
    out = tmp_path / "out.zarr"
    rc, _, pid = interrupt_mid_write(["tokenize", tmp_path / "big.fa", "-o", out, "--no-progress"],
                                     tmp_path / "big.fa", tmp_path, signal.SIGKILL,
                                     lambda: shutil.rmtree(out, ignore_errors=True))
    assert rc == -signal.SIGKILL
    left = temporaries(tmp_path)
    assert len(left) == 1 and left[0].startswith(f".out.zarr.genomamba-tmp-{HOST}-{pid}-")
    assert (tmp_path / left[0]).is_dir()
    assert main(["tokenize", str(SMALL), "-o", str(tmp_path / "other.zarr"), "--no-progress"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.fa", "other.zarr"]


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    try:
        os.kill(proc.pid, 0)
    except ProcessLookupError:
        return proc.pid
    pytest.skip("the pid was reused at once")


def test_only_temporaries_of_gone_processes_of_this_host_are_removed(tmp_path):
    dead, live = dead_pid(), os.getpid()
    tag = "0123abcd"
    store = tmp_path / "s.zarr"
    assert main(["tokenize", str(SMALL), "-o", str(store), "--no-progress"]) == 0
    folder = tmp_path / "out"
    folder.mkdir()
    removed = [f".a.tsv.genomamba-tmp-{HOST}-{dead}-{tag}", f".r.bam.genomamba-tmp-{HOST}-{dead}-{tag}.bam",
               f".i.fa.genomamba-old-{HOST}-{dead}-{tag}"]
    kept = [f".c.tsv.genomamba-tmp-{HOST}-{live}-{tag}",            # its process runs
            f".d.tsv.genomamba-tmp-otherhost-{dead}-{tag}",          # another machine's (shared folder)
            ".e.tsv.genomamba-tmp-notes", f"f.tsv.genomamba-tmp-{HOST}-{dead}-{tag}",
            f".g.tsv.genomamba-tmp-{HOST}-{dead}-{tag}.bak~", f".h.tsv.genomamba-tmp-{HOST}-{dead}-xyz",
            "i.fa"]
    for name in removed + kept:
        (folder / name).write_text("x\n")
    stale_store = folder / f".b.zarr.genomamba-tmp-{HOST}-{dead}-{tag}"
    (stale_store / "tokens" / "c").mkdir(parents=True)
    (stale_store / "tokens" / "c" / "0").write_bytes(b"chunk")
    moved_aside = folder / f".j.fa.genomamba-old-{HOST}-{dead}-{tag}"  # its new version never arrived
    moved_aside.write_text(">j\nACGT\n")
    assert main(["export", str(store), "-o", str(folder / "out.fa")]) == 0
    assert sorted(p.name for p in folder.iterdir()) == sorted(kept + ["j.fa", "out.fa"])
    assert (folder / "j.fa").read_text() == ">j\nACGT\n"


def test_an_interrupt_whose_exception_a_finaliser_dropped_still_stops_the_output(tmp_path, monkeypatch, capfd):
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: reported.append(info.exc_type))

    class Finalised:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(100_000):  # Python runs the handler here, and drops what it raises
                pass

    out = tmp_path / "out.txt"
    with interrupts.handled(), pytest.raises(interrupts.Interrupted):
        with atomic_path(out) as tmp:
            tmp.write_text("complete, but the user asked to stop")
            Finalised()
            with pytest.raises(interrupts.Interrupted):   # the handler ran, and its exception was dropped
                interrupts.check()
    assert reported == []   # dropped quietly: the command's own message says what happened
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    with atomic_path(out) as tmp:   # outside the block, the signal stops nothing
        tmp.write_text("written")
    assert out.read_text() == "written"
    assert capfd.readouterr().err == ""

    class Failing:   # other errors in finalisers are reported as before
        def __del__(self):
            raise ValueError("reported")

    with interrupts.handled():
        Failing()
    assert reported == [ValueError]
