"""`genomamba bench ingest`: tokenize throughput (plain, gzip, BAM), `gzip -dc` beside it, store size
against gzip -6, and peak memory on a large generated FASTA. Pinned to one core, Blosc on one thread."""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# the development genomes, in shared/data beside the repository (absent ones are skipped)
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
REAL_DEFAULT = [str(SHARED_DATA / "apes" / "Hsap.fa.gz"),
                str(SHARED_DATA / "genomes" / "Escherichia_coli" / "DH1.fa.gz"),
                str(SHARED_DATA / "genomes" / "Klebsiella_pneumoniae" / "HS11286.fna.xz")]


def parse_args(argv):
    p = argparse.ArgumentParser(prog="genomamba bench ingest", description=__doc__.splitlines()[0])
    p.add_argument("--size-mb", type=float, default=256, help="size of the generated FASTA (default 256)")
    p.add_argument("--source", nargs="+", help="take these FASTA files (any compression; concatenated) "
                                                "instead of generating one")
    p.add_argument("--real", nargs="*", default=REAL_DEFAULT, help="real genomes for the compression table")
    p.add_argument("--repeats", type=int, default=3, help="runs per measurement; the median is reported")
    p.add_argument("--bam-reads", type=int, default=100_000, help="reads in the BAM (1 kb each)")
    p.add_argument("--rss-gbp", type=float, default=1.0, help="size of the peak-memory run in Gbp (0: skip)")
    p.add_argument("--core", type=int, default=0, help="CPU to pin to")
    p.add_argument("--workdir", help="where the temporary files go (default: system temp)")
    return p.parse_args(argv)


def write_random_fasta(path, n_bases: int, seed: int = 0, records: int = 8, width: int = 60):
    """Seeded uniform random DNA in upper case, ``records`` records, lines of ``width``."""
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    per_record = n_bases // records
    block = width * (1 << 16)
    with open(path, "wb") as fh:
        for r in range(records):
            fh.write(f">random_{r} seed={seed}\n".encode())
            left = per_record
            while left:
                n = min(block, left)
                seq = letters[rng.integers(0, 4, n, dtype=np.uint8)]
                full = n // width
                lines = np.empty((full, width + 1), dtype=np.uint8)
                lines[:, :width] = seq[:full * width].reshape(full, width)
                lines[:, width] = 10
                fh.write(lines.tobytes())
                if n % width:
                    fh.write(seq[full * width:].tobytes() + b"\n")
                left -= n
    return per_record * records


def write_bam(path, fasta, n_reads: int, length: int = 1000, seed: int = 0):
    """Unaligned BAM of reads cut from ``fasta``, half of them flagged reverse (stored RC)."""
    import pysam
    from ..alphabet import decode, reverse_complement
    from ..io import read_records
    rng = np.random.default_rng(seed)
    records = read_records(fasta)
    genome = np.concatenate([t for t, _ in next(records).chunks()])  # the first record is enough
    records.close()
    header = {"HD": {"VN": "1.6", "SO": "unsorted"}}
    quals = pysam.qualitystring_to_array("I" * length)
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for i in range(n_reads):
            start = int(rng.integers(0, len(genome) - length))
            piece = genome[start:start + length]
            a = pysam.AlignedSegment(out.header)
            a.query_name = f"read{i}"
            a.flag = 4 | (16 if i % 2 else 0)
            a.query_sequence = decode(reverse_complement(piece) if i % 2 else piece).decode()
            a.query_qualities = quals
            out.write(a)
    return n_reads * length


def gzip_to(src, dst, level: int = 6):
    """``gzip -<level> -c src > dst``, with an argument list (no shell, so any path is safe)."""
    with open(dst, "wb") as out:
        subprocess.run(["gzip", f"-{level}", "-c", "--", str(src)], stdout=out, check=True)


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def tokenize_time(inputs, out, repeats):
    """Median seconds of ``tokenize_files`` into a fresh ``out`` (removing the old one is not timed)."""
    from ..io.tokenize import tokenize_files
    times = []
    for _ in range(repeats):
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        tokenize_files(inputs, out, progress=False)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def window_read_ms(store_path, seed: int = 0, cache_chunks: int = 16) -> dict:
    """Median milliseconds of SequenceStore.read for random windows of a few sizes."""
    from ..store import SequenceStore
    store = SequenceStore.open(store_path, cache_chunks=cache_chunks)
    rng = np.random.default_rng(seed)
    out = {}
    for size, n in ((1_000, 200), (100_000, 50), (1_000_000, 20)):
        eligible = np.flatnonzero(store.lengths > size)
        if not len(eligible):
            continue
        times = []
        for _ in range(n):
            record = int(rng.choice(eligible))
            start = int(rng.integers(0, int(store.lengths[record]) - size))
            t0 = time.perf_counter()
            store.read(record, start, start + size)
            times.append(time.perf_counter() - t0)
        out[size] = statistics.median(times) * 1e3
    return out


def fixed_cost(tmp, repeats):
    """Seconds to tokenize a 1 kb FASTA: the per-store cost (zarr metadata, small arrays)."""
    tiny = tmp / "tiny.fa"
    write_random_fasta(tiny, 1000, records=1)
    seconds = tokenize_time([tiny], tmp / "tiny.zarr", max(repeats, 5))
    shutil.rmtree(tmp / "tiny.zarr")
    return seconds


def du(path) -> int:
    """Bytes in a file, or in all files under a directory."""
    path = Path(path)
    return path.stat().st_size if path.is_file() else sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def compression_rows(real, tmp, repeats):
    from ..io import read_records
    rows = []
    for src in real:
        if not Path(src).exists():
            continue
        plain = tmp / (Path(src).name + ".plain.fa")
        with open(plain, "wb") as fh:  # decompressed FASTA (gzip -6 is then taken of it)
            from ..io.compression import Decompressed
            with Decompressed(src) as data:
                for block in data.blocks():
                    fh.write(block)
        gz = tmp / "real.fa.gz"
        gzip_to(plain, gz)
        store = tmp / "real.zarr"
        seconds = tokenize_time([plain], store, repeats)
        bases = sum(sum(len(t) for t, _ in r.chunks()) for r in read_records(plain))
        masked = __import__("genomamba.store", fromlist=["SequenceStore"]).SequenceStore.open(store).attrs["masked"]
        windows = (window_read_ms(store, cache_chunks=0).get(1000, np.nan), window_read_ms(store).get(1000, np.nan))
        rows.append((Path(src).name, bases, masked / bases, du(gz) * 8 / bases, du(store) * 8 / bases,
                     du(store) / du(gz), bases / seconds / 1e6, *windows))
        for path in (plain, gz):
            path.unlink()
        shutil.rmtree(store)
    return rows


def peak_rss_run(tmp, gbp, core):
    """Tokenize a generated ``gbp`` Gbp FASTA in a child process; (seconds, peak RSS in MiB)."""
    big = tmp / "big.fa"
    n = write_random_fasta(big, int(gbp * 1e9), seed=1, records=4)
    cmd = [sys.executable, "-m", "genomamba.cli", "tokenize", str(big), "-o", str(tmp / "big.zarr"), "--no-progress"]
    env = dict(os.environ, BLOSC_NTHREADS="1")
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, cwd=Path(__file__).resolve().parents[2], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    size = du(big)
    big.unlink()
    shutil.rmtree(tmp / "big.zarr")
    return n, size, seconds, peak_kib / 1024


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except Exception:
        return platform.processor() or "unknown"


def main(argv=None) -> int:
    args = parse_args(argv or [])
    import numcodecs
    os.sched_setaffinity(0, {args.core})
    numcodecs.blosc.set_nthreads(1)
    from ..io.compression import gzip_module
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-", dir=args.workdir))
    try:
        fasta = tmp / "in.fa"
        if args.source:
            from ..io.compression import Decompressed
            with open(fasta, "wb") as fh:
                for source in args.source:
                    with Decompressed(source) as data:
                        for block in data.blocks():
                            fh.write(block)
            label = " + ".join(Path(source).name for source in args.source)
        else:
            write_random_fasta(fasta, int(args.size_mb * 1e6))
            label = f"generated {args.size_mb:g} MB random"
        from ..store import SequenceStore
        store = tmp / "s.zarr"
        t_fixed = fixed_cost(tmp, args.repeats)  # also warms up imports and caches
        rows = []
        t_plain = tokenize_time([fasta], store, args.repeats)
        bases = SequenceStore.open(store).attrs["total_length"]
        rows.append(("plain FASTA", bases, t_plain))

        window_ms = {"no cache": window_read_ms(store, cache_chunks=0),
                     "16-chunk cache": window_read_ms(store)}

        gz = tmp / "in.fa.gz"
        gzip_to(fasta, gz)
        t_gzip_dc = timed(lambda: subprocess.run(["gzip", "-dc", "--", str(gz)], stdout=subprocess.DEVNULL, check=True),
                          args.repeats)
        t_gz = tokenize_time([gz], store, args.repeats)
        rows.append(("gzip -6 FASTA", bases, t_gz))
        rows.append(("`gzip -dc` alone (same file)", bases, t_gzip_dc))
        store_bits = du(store) * 8 / bases
        gz_bits = du(gz) * 8 / bases

        bam = tmp / "reads.bam"
        bam_bases = write_bam(bam, fasta, args.bam_reads)
        t_bam = tokenize_time([bam], store, args.repeats)
        rows.append((f"unaligned BAM, {args.bam_reads} reads x 1 kb", bam_bases, t_bam))
        shutil.rmtree(store)
        for path in (fasta, gz, bam):
            path.unlink()

        real = compression_rows(args.real, tmp, args.repeats)
        rss = peak_rss_run(tmp, args.rss_gbp, args.core) if args.rss_gbp > 0 else None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"machine: {cpu_model()}, 1 core (pinned to CPU {args.core}), Blosc 1 thread; "
          f"gzip reader: {gzip_module.__name__}; python {platform.python_version()}")
    print(f"input: {label}; median of {args.repeats} runs\n")
    print("| input | bases | seconds | Mbp/s |")
    print("|---|---:|---:|---:|")
    for name, n, seconds in rows:
        print(f"| {name} | {n:,} | {seconds:.3f} | {n / seconds / 1e6:.0f} |")
    print(f"\nfixed cost per store (1 kb FASTA): {t_fixed * 1e3:.0f} ms")
    for cache, times in window_ms.items():
        print(f"windowed read ({cache}, random windows of the store above), median: "
              + ", ".join(f"{size:,} bases {ms:.3f} ms" for size, ms in times.items()))
    print(f"gzip FASTA tokenize vs `gzip -dc` alone: {t_gzip_dc / t_gz:.2f}x the speed")
    print(f"this input: store {store_bits:.3f} bits/base, gzip -6 FASTA {gz_bits:.3f} bits/base\n")
    if real:
        print("| real genome | bases | soft-masked | gzip -6 FASTA bits/base | store bits/base | store / gzip "
              "| tokenize Mbp/s (plain) | 1 kb window ms, no cache | 1 kb window ms, cache |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, n, masked, gzb, sb, ratio, speed, cold, warm in real:
            print(f"| {name} | {n:,} | {masked:.1%} | {gzb:.3f} | {sb:.3f} | {ratio:.2f} | {speed:.0f} "
                  f"| {cold:.3f} | {warm:.4f} |")
    if rss:
        n, size, seconds, peak = rss
        print(f"\npeak RSS tokenizing a generated {n / 1e9:g} Gbp FASTA ({size / 1e9:.2f} GB on disk, one run, "
              f"child process): {peak:.0f} MiB; {seconds:.1f} s wall ({n / seconds / 1e6:.0f} Mbp/s incl. start-up)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
