"""`genomamba train`: fit a classifier on a split and write its model directory atomically.

Under ``torchrun --nproc-per-node N`` the neural kinds train data-parallel on N ranks
(``genomamba.distributed``): every rank runs this command, rank 0 logs and writes the model."""

from __future__ import annotations

import json
import time
from pathlib import Path

from .. import progress
from ..errors import ConfigError
from ..outputs import add_force_argument, check_output

PAUSED = 3  # exit status of a run stopped by --max-minutes, to be continued


def add_arguments(parser):
    from ..classifiers import KINDS

    parser.add_argument("--kind", required=True, choices=sorted(KINDS), help="classifier kind")
    parser.add_argument("--split", required=True, type=Path, help="split.tsv (genomamba split)")
    parser.add_argument("--params", default="{}",
                        help="parameters as a JSON object, or @FILE.json (keys: see the kind's module)")
    parser.add_argument("--seed", type=int, default=0, help="seed for every random choice (default 0)")
    parser.add_argument("-o", "--output", required=True, type=Path,
                        help="model directory to write (a genomamba model directory already there is replaced)")
    add_force_argument(parser)
    progress.add_arguments(parser)
    parser.add_argument("--max-minutes", type=float, default=None, metavar="M",
                        help="neural kinds: stop training after M minutes at a step boundary, save the "
                             "run to params.checkpoint_dir and exit with status 3; the same command "
                             "again continues the same run (same batches, optimizer and schedule)")


def parse_params(text: str) -> dict:
    """A JSON object given inline or as ``@path``."""
    source = "--params"
    if text.startswith("@"):
        source = text[1:]
        try:
            text = Path(source).read_text()
        except OSError as exc:
            raise ConfigError(f"--params {source}: cannot read: {exc.strerror}") from None
    try:
        params = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}: not valid JSON: {exc}") from None
    if not isinstance(params, dict):
        raise ConfigError(f"{source}: must be a JSON object, got {type(params).__name__}")
    return params


def log(message: str) -> None:
    """A line on stderr, above a progress bar; in a data-parallel run, rank 0's only."""
    from .. import distributed  # torch: imported when a command runs, not for the help

    if distributed.is_main():
        progress.message(f"[{time.strftime('%H:%M:%S')}] {message}")


def run(args) -> int:
    from ..atomic import atomic_path
    from .. import distributed
    from ..classifiers import classifier_class, resolve_params
    from ..split import Split
    from ..train import TrainingPaused

    if distributed.launched() and args.kind not in ("mamba", "transformer"):
        raise ConfigError(f"{distributed.world_size()} ranks (torchrun): only the neural kinds (mamba, "
                          f"transformer) train data-parallel; train {args.kind} in one process")
    params = parse_params(args.params)
    split = Split.read(args.split)
    params_file = [args.params[1:]] if args.params.startswith("@") else []
    members = resolve_params(args.kind, params)["members"] if args.kind == "combined" else []
    check_output(args.output, "model",
                 [args.split, *params_file, *(row.store for row in split.rows), *members], args.force)
    log(f"train {args.kind}: {split!r}, seed {args.seed}, params {json.dumps(params, sort_keys=True)}")
    started = time.perf_counter()
    time_limit = {}   # only the neural kinds' fit takes a deadline
    if args.max_minutes is not None:
        if args.kind not in ("mamba", "transformer"):
            raise ConfigError("--max-minutes applies to the neural kinds (mamba, transformer)")
        if args.max_minutes <= 0:
            raise ConfigError(f"--max-minutes must be > 0, got {args.max_minutes}")
        time_limit["deadline"] = time.monotonic() + 60 * args.max_minutes
    try:
        classifier = classifier_class(args.kind).fit(split, params, args.seed, log=log, **time_limit)
    except TrainingPaused as paused:
        log(f"train {args.kind}: {paused}")
        return PAUSED
    if classifier is None:   # a rank other than 0 of a data-parallel run: rank 0 writes the model
        return 0
    with atomic_path(args.output) as tmp:
        classifier.save(tmp)
    log(f"train {args.kind}: wrote {args.output} (threshold {classifier.threshold:.4f}, "
        f"{time.perf_counter() - started:.1f} s)")
    return 0
