"""The species track on synthetic chimeras of held-out assemblies: breakpoints, real contigs, contaminants.

    python benchmarks/track_experiment.py --sheet config/experiments/neural_bacteria_heldout.tsv \\
        --data DATA --out DIR [--kinds kmer sourmash] [--model NAME=MODEL_DIR ...] [--seed 1] \\
        [--window 10000] [--chimeras 10] [--contaminants 10]

SHEET: tab-separated ``sample species strain path split`` (paths relative to ``--data``). The k-mer
and sourmash models of ``--kinds`` are trained on its train and validation rows (stores under
``DIR/stores``, models under ``DIR/models``); ``--model`` adds a trained model of any kind (e.g. a Mamba
trained on the same split). Every held-out (test) assembly of a training species is a host: the
generator of ``genomamba simulate-chimeras`` (seed ``--seed`` + the host's index) adds ``--chimeras``
chimeric records (host and donor pieces of 20 kb - 1 Mb) and ``--contaminants`` contaminant contigs
(5 - 200 kb) drawn from the held-out assemblies of the other species, keeps the host's own
records and adds ``--host-pieces`` real contigs cut from them (20 kb - 1 Mb); the assembly and its
truth table go to ``DIR/sets`` (``--piece-min/--piece-max/--contaminant-max`` change the lengths,
for short genomes). Each model tracks every record with the same windows (``genomamba track``'s code), and the scores are:

  joins       breakpoints between pieces both >= 50 kb (``--join-min``) with a segment boundary within 5 kb
  real        the hosts' records and contigs (real held-out sequence) flagged neither chimeric nor
              contaminant, and segment boundaries per Mb on them
  contaminant contaminant contigs >= 20 kb (and < 20 kb) flagged ``contaminant``
  time        seconds spent tracking and segmenting (change points refined, unless --no-refine), and,
              side by side on the same records, seconds of the track pass alone against plain
              classification (one call per record): the cost of the track itself

written to ``DIR/summary.tsv`` and printed; per host and model the track, segments and flags tables
are in ``DIR/<model>/``.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from genomamba.chimeras import (ChimeraParams, Source, breakpoints, simulate_chimeras, write_fasta,  # noqa: E402
                                write_truth)
from genomamba.segment import (SegmentParams, flag_records, refine_changes, segment_track, write_flags,  # noqa: E402
                               write_segments)
from genomamba.track import track_record, write_track_table  # noqa: E402

JOIN_TOLERANCE, CONTAMINANT_MIN = 5_000, 20_000


def read_sheet(path, data: Path) -> list[dict]:
    with open(path, newline="") as fh:
        lines = [line for line in fh if not line.startswith("#")]
    rows = list(csv.DictReader(lines, delimiter="\t"))
    for row in rows:
        row["path"] = str(data / row["path"])
    return rows


def train_models(rows, kinds, out: Path, seed: int) -> dict:
    """Stores of the train and validation rows and the models of ``kinds`` trained on them."""
    if not kinds:
        return {}
    from genomamba.classifiers import classifier_class
    from genomamba.io import read_records
    from genomamba.split import Split, SplitRow
    from genomamba.store import StoreWriter

    split_rows = []
    for row in rows:
        if row["split"] not in ("train", "validation"):
            continue
        store = out / "stores" / f"{row['sample']}.zarr"
        if not store.exists():
            writer = StoreWriter(store)
            for record in read_records(row["path"]):
                writer.begin(record.name)
                for tokens, mask in record.chunks():
                    writer.append(tokens, mask)
                writer.end()
            writer.close(species=row["species"], strain=row["strain"])
        split_rows.append(SplitRow(row["sample"], row["species"], row["strain"], row["split"], str(store)))
    split = Split(split_rows)
    models = {}
    for kind in kinds:
        directory = out / "models" / kind
        if not directory.exists():
            classifier_class(kind).fit(split, {}, seed=seed, log=lambda *_: None).save(directory)
        models[kind] = directory
    return models


def score_host(truth, segments, flags, join_min: int) -> dict:
    """The counts behind the summary for one host's assembly."""
    cuts = {record: [s.start for s in segs[1:]] for record, segs in segments.items()}
    flag = {f.record: f.flag for f in flags}
    joins = [(r, p) for r, p, before, after in breakpoints(truth) if before >= join_min and after >= join_min]
    real = [p for p in truth if p.kind == "host"]
    big = [p for p in truth if p.kind == "contaminant" and p.end - p.start >= CONTAMINANT_MIN]
    small = [p for p in truth if p.kind == "contaminant" and p.end - p.start < CONTAMINANT_MIN]
    return {
        "joins": len(joins),
        "joins_found": sum(any(abs(c - p) <= JOIN_TOLERANCE for c in cuts[r]) for r, p in joins),
        "real": len(real),
        "real_clean": sum("chimeric" not in flag[p.record] and "contaminant" not in flag[p.record] for p in real),
        "real_boundaries": sum(len(cuts[p.record]) for p in real),
        "real_mb": sum(p.end - p.start for p in real) / 1e6,
        "contaminants": len(big),
        "contaminants_flagged": sum("contaminant" in flag[p.record] for p in big),
        "small": len(small),
        "small_flagged": sum("contaminant" in flag[p.record] for p in small),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sheet", required=True, type=Path)
    parser.add_argument("--data", required=True, type=Path, help="folder the sheet's paths are relative to")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--kinds", nargs="*", default=["kmer", "sourmash"])
    parser.add_argument("--model", action="append", default=[], metavar="NAME=DIR")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--window", type=int, default=10_000)
    parser.add_argument("--switch-penalty", type=float, default=SegmentParams().switch_penalty)
    parser.add_argument("--chimeras", type=int, default=10)
    parser.add_argument("--contaminants", type=int, default=10)
    parser.add_argument("--host-pieces", type=int, default=20, help="real contigs cut from each host")
    parser.add_argument("--piece-min", type=int, default=ChimeraParams.piece_min)
    parser.add_argument("--piece-max", type=int, default=ChimeraParams.piece_max)
    parser.add_argument("--contaminant-max", type=int, default=ChimeraParams.contaminant_max)
    parser.add_argument("--join-min", type=int, default=50_000, help="joins scored: both pieces at least this long")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--no-refine", dest="refine", action="store_false",
                        help="keep change points on window boundaries")
    args = parser.parse_args(argv)

    from genomamba.commands.classify import load_model

    rows = read_sheet(args.sheet, args.data)
    args.out.mkdir(parents=True, exist_ok=True)
    dirs = train_models(rows, args.kinds, args.out, args.seed)
    dirs.update(dict(m.split("=", 1) for m in args.model))
    models = {name: load_model(Path(d), args.device) for name, d in dirs.items()}
    training = {r["species"] for r in rows if r["split"] == "train"}
    held_out = [r for r in rows if r["split"] == "test" and r["species"] in training]
    sources = {r["sample"]: Source.read(r["species"], r["path"]) for r in held_out}
    params = SegmentParams(switch_penalty=args.switch_penalty)
    chimera_params = ChimeraParams(chimeras=args.chimeras, contaminants=args.contaminants,
                                   host_pieces=args.host_pieces, piece_min=args.piece_min, piece_max=args.piece_max,
                                   contaminant_max=args.contaminant_max)

    totals = {name: {} for name in models}
    for index, host in enumerate(held_out):
        donors = [sources[r["sample"]] for r in held_out if r["species"] != host["species"]]
        records, truth = simulate_chimeras(sources[host["sample"]], donors, chimera_params, args.seed + index)
        sets = args.out / "sets"
        write_fasta(sets / f"{host['sample']}.fa", records)
        write_truth(sets / f"{host['sample']}.truth.tsv", truth)
        for name, model in models.items():
            if index == 0:  # compile and allocate outside the timings
                record, tokens = records[0]
                model.score([tokens[:100_000]])
                track_record(model, record, [tokens[:100_000]], args.window)
            started = time.perf_counter()
            for _, tokens in records:
                model.score([tokens])
            classify_seconds = time.perf_counter() - started
            started = time.perf_counter()
            tracks = [track_record(model, record, [tokens], args.window) for record, tokens in records]
            track_seconds = time.perf_counter() - started
            segments = {}
            for t, (_, tokens) in zip(tracks, records):
                found = segment_track(t, model.species, model.threshold, params)
                if args.refine and len({s.call for s in found}) > 1:
                    found = refine_changes(found, tokens, lambda x: model.score([x]), model.species, args.window)
                segments[t.record] = found
            seconds = track_seconds + time.perf_counter() - started
            flags = flag_records(segments, {t.record: t.length for t in tracks})
            folder = args.out / name
            write_track_table(folder / f"{host['sample']}.track.tsv", tracks, model.species, model.threshold)
            write_segments(folder / f"{host['sample']}.segments.tsv", [s for v in segments.values() for s in v])
            write_flags(folder / f"{host['sample']}.flags.tsv", flags)
            counts = score_host(truth, segments, flags, args.join_min)
            counts["seconds"] = seconds
            counts["track_seconds"] = track_seconds
            counts["classify_seconds"] = classify_seconds
            counts["bases"] = sum(t.length for t in tracks)
            for key, value in counts.items():
                totals[name][key] = totals[name].get(key, 0) + value
            print(f"{host['sample']} {name}: {counts}", file=sys.stderr, flush=True)

    header = ["model", "window", "joins_found", "joins", "real_clean", "real", "boundaries_per_mb_real",
              "contaminants_flagged", "contaminants", "small_flagged", "small", "seconds", "kb_per_s",
              "track_kb_per_s", "classify_kb_per_s"]
    with open(args.out / "summary.tsv", "w") as fh:
        fh.write("\t".join(header) + "\n")
        for name, t in totals.items():
            row = [name, args.window, t["joins_found"], t["joins"], t["real_clean"], t["real"],
                   f"{t['real_boundaries'] / max(t['real_mb'], 1e-9):.3f}", t["contaminants_flagged"],
                   t["contaminants"], t["small_flagged"], t["small"], f"{t['seconds']:.1f}",
                   f"{t['bases'] / 1e3 / max(t['seconds'], 1e-9):.0f}",
                   f"{t['bases'] / 1e3 / max(t['track_seconds'], 1e-9):.0f}",
                   f"{t['bases'] / 1e3 / max(t['classify_seconds'], 1e-9):.0f}"]
            fh.write("\t".join(map(str, row)) + "\n")
            rate = lambda a, b: f"{t[a]}/{t[b]} ({t[a] / t[b]:.1%})" if t[b] else f"{t[a]}/0"  # noqa: E731
            print(f"{name}: joins >= {args.join_min / 1000:g} kb found within 5 kb {rate('joins_found', 'joins')}; "
                  f"real held-out "
                  f"records clean {rate('real_clean', 'real')}, {t['real_boundaries']} boundaries on "
                  f"{t['real_mb']:.1f} Mb; contaminants >= 20 kb flagged "
                  f"{rate('contaminants_flagged', 'contaminants')},"
                  f" < 20 kb {rate('small_flagged', 'small')}; {t['seconds']:.0f} s; track pass "
                  f"{t['track_seconds']:.1f} s against plain classification {t['classify_seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
