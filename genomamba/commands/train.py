"""`genomamba train`: fit a classifier on a split and write its model directory atomically."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ..errors import ConfigError

HELP = "train a classifier (mamba, transformer, kmer, sourmash) on a split"


def add_arguments(parser):
    from ..classifiers import KINDS

    parser.add_argument("--kind", required=True, choices=sorted(KINDS), help="classifier kind")
    parser.add_argument("--split", required=True, type=Path, help="split.tsv (genomamba split)")
    parser.add_argument("--params", default="{}",
                        help="parameters as a JSON object, or @FILE.json (keys: see the kind's module)")
    parser.add_argument("--seed", type=int, default=0, help="seed for every random choice (default 0)")
    parser.add_argument("-o", "--output", required=True, type=Path, help="model directory to write")


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
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(args) -> int:
    from ..atomic import atomic_path
    from ..classifiers import classifier_class
    from ..split import Split

    params = parse_params(args.params)
    split = Split.read(args.split)
    log(f"train {args.kind}: {split!r}, seed {args.seed}, params {json.dumps(params, sort_keys=True)}")
    started = time.perf_counter()
    classifier = classifier_class(args.kind).fit(split, params, args.seed, log=log)
    with atomic_path(args.output) as tmp:
        classifier.save(tmp)
    log(f"train {args.kind}: wrote {args.output} (threshold {classifier.threshold:.4f}, "
        f"{time.perf_counter() - started:.1f} s)")
    return 0
