"""`genomamba evaluate`: score calls tables against split.tsv and write the metrics JSON."""

from pathlib import Path

from ..outputs import add_force_argument, check_output


def add_arguments(parser):
    parser.add_argument("--split", required=True, type=Path, help="split.tsv (the truth)")
    parser.add_argument("--calls", required=True, nargs="+", type=Path,
                        help="calls tables, one per sample, named {sample}.tsv")
    parser.add_argument("--model-name", help="model name in the metrics (default: output file stem)")
    parser.add_argument("--splits", nargs="+", default=["test"], choices=["test", "validation"],
                        help="which splits to score (default: test)")
    parser.add_argument("--model-dir", type=Path,
                        help="model folder: its config.json is kept in the metrics as model_config")
    parser.add_argument("--read-length-bins", action="store_true",
                        help="the records are reads: also score them by read length (<1, 1-2, 2-5, 5-10, "
                             ">=10 kb and >= 2 kb)")
    parser.add_argument("-o", "--output", required=True, type=Path, help="metrics JSON to write")
    add_force_argument(parser)


def run(args) -> int:
    from ..evaluate import evaluate, read_model_config, write_metrics
    from ..split import Split

    check_output(args.output, "file", [args.split, *args.calls, args.model_dir], args.force)
    name = args.model_name or args.output.name.removesuffix(".json")
    metrics = evaluate(Split.read(args.split), args.calls, model=name, splits=args.splits,
                       by_read_length=args.read_length_bins)
    if args.model_dir:
        metrics["model_config"] = read_model_config(args.model_dir)
    write_metrics(metrics, args.output)
    for split_name, part in metrics["splits"].items():
        for level in part["levels"]:
            label = level["level"] + (f" {level['fragment_length']} bp" if level["fragment_length"] else "")
            acc = "n/a" if level["accuracy"] is None else f"{level['accuracy']:.3f}"
            print(f"{name}\t{split_name}\t{label}\tn={level['n']}\taccuracy={acc}")
        for level in part.get("read_length_bins", []):
            acc = "n/a" if level["accuracy"] is None else f"{level['accuracy']:.3f}"
            print(f"{name}\t{split_name}\treads {level['label']}\tn={level['n']}\taccuracy={acc}")
    return 0
