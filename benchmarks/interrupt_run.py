"""Interrupt the workflow at random points, rerun it to completion, compare with an uninterrupted run.

1. Reference: `snakemake --cores N` of this clone's Snakefile (the default workflow, plus any
   --configfile) runs uninterrupted in WORKDIR/run, which then becomes WORKDIR/reference (so both
   runs have the same absolute path, in case a result names it).
2. Rounds: each starts from an empty WORKDIR/run. Snakemake is started and, after a random delay
   (--min-delay .. --max-delay seconds; the range doubles after an attempt in which no job finished,
   so that a job longer than --max-delay is not interrupted forever and the late rules are reached
   too, and is reset once one does), its whole process group (Snakemake, the job shells, the
   genomamba processes) gets SIGTERM or SIGKILL (drawn at random, seeded); once the group is gone,
   Snakemake is started again (`--rerun-incomplete`; after a SIGKILL first `--unlock`, as a user
   would), and so on until the run completes. Once --interruptions have been made the round in
   progress runs to completion uninterrupted.
3. After each round: the sha256 of every file under results/ against the reference (results/benchmarks/,
   Snakemake's per-job timings, are left out; a JSON file that differs is listed with the keys that
   differ, and counted apart if they are all wall-clock timings, TIMING_KEYS), and stray files
   anywhere in the run directory:
   genomamba's temporary outputs (genomamba.atomic.TEMP), Snakemake's incomplete markers and locks.
   Right after each interruption it also counts the temporary outputs left (a SIGTERM should leave
   none; a SIGKILL may, for the next run writing into that folder to remove).

Writes WORKDIR/summary.json and prints a summary. Linux only (reads /proc for the process group).
The default workflow takes several minutes per run on 2 cores; --configfile takes a smaller overlay
(benchmarks/interrupt_run.yaml: fewer training steps, one fragment length). Run it from a clone
(or `git archive` snapshot) that nobody edits meanwhile:

    python benchmarks/interrupt_run.py --workdir runs/interrupt --interruptions 20 --seed 1 \\
        --configfile benchmarks/interrupt_run.yaml
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from genomamba.atomic import TEMP  # noqa: E402

TIMINGS = "results/benchmarks/"  # Snakemake's benchmark files: wall times, different on every run
# JSON keys holding wall-clock measurements (training.json's seconds and training_throughput):
# a file differing only there is counted apart, neither identical nor a wrong result
TIMING_KEYS = ("seconds", "tokens_per_second")
SIGNALS = {"SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", required=True, type=Path, help="where the runs go (created; its run/ and "
                                                                 "reference/ are replaced)")
    p.add_argument("--interruptions", type=int, default=20, help="at least this many (default 20)")
    p.add_argument("--seed", type=int, default=1, help="seeds the delays and signals (default 1)")
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--configfile", nargs="*", default=[], type=Path, help="config overlays for snakemake")
    p.add_argument("--min-delay", type=float, default=5.0, help="seconds after a start (default 5)")
    p.add_argument("--max-delay", type=float, default=90.0, help="seconds after a start (default 90)")
    p.add_argument("--signals", nargs="+", default=list(SIGNALS), choices=list(SIGNALS))
    p.add_argument("--grace", type=float, default=60.0,
                   help="seconds a SIGTERMed group may take to end before it gets SIGKILL (default 60)")
    p.add_argument("--reuse-reference", action="store_true",
                   help="keep WORKDIR/reference if it holds a completed run")
    return p.parse_args(argv)


def snakemake(args, run: Path, *extra) -> list[str]:
    cmd = [sys.executable, "-m", "snakemake", "--cores", str(args.cores), "-s", str(REPO / "Snakefile"),
           "--directory", str(run)]
    if args.configfile:
        cmd += ["--configfile", *(str(p.resolve()) for p in args.configfile)]
    return cmd + list(extra)


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group, from /proc."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # state ppid pgrp ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry))
    return members


def start(args, run: Path, log: Path) -> subprocess.Popen:
    with open(log, "ab") as fh:
        return subprocess.Popen(snakemake(args, run, "--rerun-incomplete"), stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)


def running_jobs(log: Path) -> list[str]:
    """Rules of the jobs started and not finished, from Snakemake's log of one attempt."""
    text = log.read_text(errors="replace")
    started = {jobid: rule for rule, jobid in re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):\n(?:    .*\n)*?    jobid: (\d+)",
                                                         text, re.M)}
    finished = set(re.findall(r"^Finished jobid: (\d+)", text, re.M))
    return sorted(rule for jobid, rule in started.items() if jobid not in finished)


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:300]
    except OSError:
        return "?"


def finished_jobs(log: Path) -> int:
    return len(re.findall(r"^Finished jobid: ", log.read_text(errors="replace"), re.M))


def stop(proc: subprocess.Popen, signum: int, grace: float) -> list[str]:
    """Send ``signum`` to the process group and wait until it is gone; after ``grace`` seconds the
    group gets SIGKILL. Returns the command lines of the processes that outlived the grace."""
    pgid = proc.pid
    os.killpg(pgid, signum)
    deadline = time.monotonic() + grace
    outlived = []
    while True:
        proc.poll()
        members = group_members(pgid)
        if proc.returncode is not None and not members:
            return outlived
        if time.monotonic() > deadline and not outlived:
            outlived = [command_line(pid) for pid in members] or ["?"]
            os.killpg(pgid, signal.SIGKILL)
        time.sleep(0.2)


def temporaries(run: Path) -> list[str]:
    return sorted(str(p.relative_to(run)) for p in run.rglob("*") if TEMP.fullmatch(p.name))


def strays(run: Path) -> dict:
    meta = run / ".snakemake"
    listing = lambda d: sorted(str(p.relative_to(run)) for p in d.rglob("*") if p.is_file()) if d.is_dir() else []
    return {"temporaries": temporaries(run), "incomplete": listing(meta / "incomplete"),
            "locks": listing(meta / "locks")}


def digests(run: Path) -> dict:
    out = {}
    for path in sorted((run / "results").rglob("*")):
        name = str(path.relative_to(run))
        if path.is_file() and not name.startswith(TIMINGS):
            out[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def json_differences(a, b, where: str = "") -> list[str]:
    """The keys (dotted paths) at which two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(a.keys() | b.keys())
                for d in json_differences(a.get(k), b.get(k), f"{where}.{k}" if where else k)]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in json_differences(x, y, f"{where}[{i}]")]
    return [] if a == b else [where or "."]


def compare(reference: dict, run: dict, reference_dir: Path, run_dir: Path) -> dict:
    """Digests against the reference's; for a JSON file that differs, the keys where it does."""
    common = reference.keys() & run.keys()
    different = {}
    for name in sorted(k for k in common if reference[k] != run[k]):
        try:
            a, b = (json.loads((d / name).read_text()) for d in (reference_dir, run_dir))
            different[name] = json_differences(a, b)
        except ValueError:
            different[name] = []
    return {"files": len(reference), "identical": len(common) - len(different), "different": different,
            "missing": sorted(reference.keys() - run.keys()), "extra": sorted(run.keys() - reference.keys())}


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    return {"cpu": cpu, "cores": os.cpu_count(), "load_average": os.getloadavg(), "python": platform.python_version(),
            "platform": platform.platform()}


def reference_run(args, run: Path, reference: Path) -> float:
    if args.reuse_reference and (reference / "results" / "report.html").is_file():
        return 0.0
    for folder in (run, reference):
        if folder.exists():
            shutil.rmtree(folder)
    run.mkdir(parents=True)
    started = time.monotonic()
    with open(args.workdir / "reference.log", "wb") as log:
        done = subprocess.run(snakemake(args, run), stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        sys.exit(f"the reference run failed (exit {done.returncode}); see {args.workdir / 'reference.log'}")
    os.rename(run, reference)
    return time.monotonic() - started


def main(argv=None) -> int:
    args = parse(argv)
    args.workdir = args.workdir.resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    run, reference = args.workdir / "run", args.workdir / "reference"
    summary = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": machine(),
               "command": " ".join([Path(sys.executable).name, *sys.argv]), "snakemake": snakemake(args, Path("RUN"))}
    t0 = time.monotonic()
    summary["reference_seconds"] = round(reference_run(args, run, reference), 1)
    print(f"reference run: {summary['reference_seconds']} s", flush=True)
    expected = digests(reference)
    interruptions, rounds = [], []
    while len(interruptions) < args.interruptions:
        if run.exists():
            shutil.rmtree(run)
        run.mkdir()
        attempt, made, stretch = 0, 0, 1.0
        round_started = time.monotonic()
        while True:
            attempt += 1
            log = args.workdir / f"round{len(rounds) + 1}_attempt{attempt}.log"
            log.unlink(missing_ok=True)
            if strays(run)["locks"]:
                subprocess.run(snakemake(args, run, "--unlock"), capture_output=True, check=True)
            proc = start(args, run, log)
            if len(interruptions) >= args.interruptions:
                rc = proc.wait()
                break
            delay = rng.uniform(args.min_delay, args.max_delay) * stretch
            try:
                rc = proc.wait(timeout=delay)
                break  # completed (or failed) before the interruption was due
            except subprocess.TimeoutExpired:
                pass
            name = rng.choice(args.signals)
            jobs = running_jobs(log)
            outlived = stop(proc, SIGNALS[name], args.grace)
            left = temporaries(run)
            stretch = 1.0 if finished_jobs(log) else 2 * stretch
            interruptions.append({"round": len(rounds) + 1, "attempt": attempt, "signal": name,
                                  "after_s": round(delay, 1), "running": jobs, "escalated": bool(outlived),
                                  "outlived_grace": outlived, "temporaries_left": left})
            made += 1
            print(f"interruption {len(interruptions)}: {name} after {delay:.1f} s, running {jobs or '-'}; "
                  f"{len(left)} temporary output(s) left" + (" (needed SIGKILL)" if outlived else ""), flush=True)
        result = {"round": len(rounds) + 1, "interruptions": made, "runs": attempt, "exit": rc,
                  "seconds": round(time.monotonic() - round_started, 1),
                  **compare(expected, digests(run), reference, run), "strays": strays(run)}
        rounds.append(result)
        print(f"round {result['round']}: {made} interruptions, {attempt} runs, exit {rc}; "
              f"{result['identical']}/{result['files']} files identical (different: {result['different'] or '-'}); "
              f"strays {result['strays']}", flush=True)
    summary.update(interruptions=interruptions, rounds=rounds, seconds=round(time.monotonic() - t0, 1))
    totals = {
        "interruptions": len(interruptions),
        "by_signal": {s: sum(i["signal"] == s for i in interruptions) for s in args.signals},
        "runs": sum(r["runs"] for r in rounds),
        "rounds": len(rounds),
        "rounds_completed": sum(r["exit"] == 0 for r in rounds),
        "files_compared": sum(r["files"] for r in rounds),
        "files_identical": sum(r["identical"] for r in rounds),
        "files_differing_only_in_timings": sum(
            bool(keys) and all(k.rsplit(".", 1)[-1] in TIMING_KEYS for k in keys)
            for r in rounds for keys in r["different"].values()),
        "stray_files": sum(len(v) for r in rounds for v in r["strays"].values()),
        "temporaries_right_after_sigterm": sum(len(i["temporaries_left"]) for i in interruptions
                                               if i["signal"] == "SIGTERM"),
        "temporaries_right_after_sigkill": sum(len(i["temporaries_left"]) for i in interruptions
                                               if i["signal"] == "SIGKILL"),
        "escalated": sum(i["escalated"] for i in interruptions),
    }
    summary["totals"] = totals
    (args.workdir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(totals, indent=1))
    ok = (totals["rounds_completed"] == totals["rounds"] and totals["stray_files"] == 0
          and totals["files_identical"] + totals["files_differing_only_in_timings"] == totals["files_compared"]
          and not any(r["missing"] or r["extra"] for r in rounds) and totals["temporaries_right_after_sigterm"] == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
