"""`genomamba bench model`: the whole model's speed and memory.

* Mamba tokens/s, forward (no grad) and forward+backward (species loss on the pooled summary), with the
  kernels (Triton on CUDA; on CPU the blocked scan, the model's CPU default) and with the reference path
  (``kernels.set_backend('reference')``: the sequential PyTorch scan).
* Streaming inference peak memory for records of 2^20 and 2^24 bases (``--quick``: 2^16 and 2^20) fed in
  chunks (on CUDA replayed from a CUDA graph, as the classifiers stream): it must not grow with the
  length. CUDA: ``torch.cuda.max_memory_allocated``; CPU: the
  process's peak resident set size, reset before each run (Linux ``/proc/self/clear_refs``; elsewhere
  ``ru_maxrss``, which cannot be reset, so the first measurement bounds later ones).
* The Transformer baseline's forward time and memory vs length, doubling until it fails or the limit.

Imports only torch, numpy and our packages (no zarr/pysam), so it runs on a bare GPU machine.
"""

from __future__ import annotations

import argparse
import csv
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from genomamba import kernels
from genomamba.models import ModelConfig, autocast_for, build_model
from genomamba.cuda_graphs import capture

COLUMNS = ("section", "model", "backend", "device", "batch", "length", "metric", "value", "unit")


def parse(argv):
    p = argparse.ArgumentParser(prog="genomamba bench model", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes (CPU, a minute or so)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--d-model", type=int, help="model width (default 32 quick, 128 full)")
    p.add_argument("--layers", type=int, help="layers (default 2 quick, 4 full)")
    p.add_argument("--d-state", type=int, help="SSM state size (default 8 quick, 16 full)")
    p.add_argument("--batch", type=int, help="throughput batch size (default 4 quick, 8 full)")
    p.add_argument("--length", type=int, help="throughput length (default 2048 quick, 16384 full)")
    p.add_argument("--reference-length", type=int, help="length for the slow reference path (default 512/2048)")
    p.add_argument("--stream-chunk", type=int, help="streaming chunk (default 8192 CPU, 262144 CUDA)")
    p.add_argument("--stream-lengths", type=int, nargs="+", help="bases streamed (default 2^20 2^24)")
    p.add_argument("--transformer-max", type=int, help="longest Transformer length tried (default 4096 quick, 2^17 full)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, help="CPU intra-op threads (default: torch's)")
    p.add_argument("--tsv", help="also write the table here")
    p.add_argument("--skip", nargs="*", default=[], choices=("throughput", "stream", "transformer"))
    return p.parse_args(argv)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


class PeakMemory:
    """Peak memory (bytes) of what runs inside, on the device's own measure."""

    def __init__(self, device):
        self.device, self.peak, self.unit = device, 0, "bytes"

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        else:
            try:
                with open("/proc/self/clear_refs", "w") as fh:
                    fh.write("5")  # resets the peak RSS (VmHWM)
                self.source = "VmHWM"
            except OSError:
                self.source = "ru_maxrss"
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated()
        else:  # the whole process's peak resident set (a baseline of ~0.3-0.5 GB is torch itself)
            self.peak = (_status_bytes("VmHWM") if self.source == "VmHWM"
                         else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
        return False


def _status_bytes(field: str) -> int:
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) * 1024 for line in fh if line.startswith(field))
    except (OSError, StopIteration):
        return 0


def timed(fn, device, repeats):
    fn()  # warm-up (compilation, allocator)
    sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    sync(device)
    return (time.perf_counter() - start) / repeats


def random_tokens(shape, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 4, shape, generator=g).to(device)


def throughput_rows(cfg, device, batch, length, repeats, backend):
    kernels.set_backend(backend)
    model = build_model(cfg, seed=0).to(device)
    x, labels = random_tokens((batch, length), device), torch.zeros(batch, dtype=torch.long, device=device)

    @torch.no_grad()
    def forward():
        with autocast_for(device):
            model.summarise_windows(x)

    def forward_backward(set_to_none=True):
        model.zero_grad(set_to_none=set_to_none)
        with autocast_for(device):
            logits = model.head(model.summarise_windows(x))
        F.cross_entropy(logits.float(), labels).backward()

    label = "blocked" if backend == "auto" and device.type == "cpu" else backend
    rows = []

    def row(metric, fn):
        seconds = timed(fn, device, repeats)
        rows.append(("throughput", "mamba", label, device.type, batch, length, metric,
                     round(batch * length / seconds), "tokens/s"))
    row("forward", forward)
    row("forward+backward", forward_backward)
    if device.type == "cuda":   # the trainer's step on CUDA, replayed from a graph (the last user
        # of the model: the graph writes into the gradients it was captured with)
        graph, _ = capture(lambda: forward_backward(set_to_none=False))
        row("forward+backward, CUDA graph", graph.replay)
    return rows


@torch.inference_mode()
def stream_rows(cfg, device, total, chunk):
    kernels.set_backend("auto")
    model = build_model(cfg, seed=0).to(device).eval()
    rng = np.random.default_rng(0)
    piece = torch.as_tensor(rng.integers(0, 4, size=(1, chunk)), device=device)  # reused: no input growth
    # on CUDA the pieces after a record's first replay a CUDA graph, as the classifiers stream them
    model.replay_chunks(chunk if device.type == "cuda" else None)
    with autocast_for(device):  # warm-up outside the timing: compile the kernels both without and
        warm = model.new_state(1)  # with a carried state (two specialisations), fill the allocator,
        for _ in range(3):         # capture the graph
            model.feed(piece, warm)
    sync(device)
    with PeakMemory(device) as mem:
        start = time.perf_counter()
        state = model.new_state(1)
        done = 0
        with autocast_for(device):
            while done < total:
                n = min(chunk, total - done)
                model.feed(piece[:, :n], state)
                done += n
        model.pooled(state)
        sync(device)
        seconds = time.perf_counter() - start
    return [("stream", "mamba", "auto", device.type, 1, total, "peak_memory", mem.peak, "bytes"),
            ("stream", "mamba", "auto", device.type, 1, total, "tokens_per_s", round(total / seconds), "tokens/s")]


def transformer_rows(cfg, device, max_length, repeats):
    rows = []
    length = 1024
    while length <= max_length:
        tcfg = ModelConfig(arch="transformer", n_classes=cfg.n_classes, d_model=cfg.d_model,
                           n_layers=cfg.n_layers, n_heads=max(1, cfg.d_model // 32), max_context=length)
        try:
            model = build_model(tcfg, seed=0).to(device).eval()
            x = random_tokens((1, length), device)

            @torch.no_grad()
            def forward():
                with autocast_for(device):
                    model.summarise_windows(x)

            with PeakMemory(device) as mem:
                seconds = timed(forward, device, repeats)
        except torch.OutOfMemoryError:
            rows.append(("transformer", "transformer", "sdpa", device.type, 1, length, "forward_s", "OOM", "s"))
            break
        rows.append(("transformer", "transformer", "sdpa", device.type, 1, length, "forward_s", round(seconds, 5), "s"))
        rows.append(("transformer", "transformer", "sdpa", device.type, 1, length, "peak_memory", mem.peak, "bytes"))
        del model
        length *= 2
    return rows


def main(argv=None) -> int:
    args = parse(list(sys.argv[1:] if argv is None else argv))
    if args.tsv:
        from genomamba.outputs import check_output
        check_output(args.tsv, "file")
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
    full = not args.quick
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = ModelConfig(n_classes=5, d_model=args.d_model or (128 if full else 32),
                      n_layers=args.layers or (4 if full else 2), d_state=args.d_state or (16 if full else 8))
    batch, length = args.batch or (8 if full else 4), args.length or (16384 if full else 2048)
    rows = []
    previous = kernels.get_backend()
    try:
        if "throughput" not in args.skip:
            fast = "triton" if device.type == "cuda" else "auto"
            for backend, L in ((fast, length), ("reference", args.reference_length or (2048 if full else 512))):
                try:
                    rows += throughput_rows(cfg, device, batch, L, args.repeats, backend)
                except (ImportError, RuntimeError, NotImplementedError) as exc:
                    rows.append(("throughput", "mamba", backend, device.type, batch, L, "error",
                                 f"{type(exc).__name__}: {exc}"[:120], ""))
        if "stream" not in args.skip:
            chunk = args.stream_chunk or (262144 if device.type == "cuda" else 8192)
            for total in args.stream_lengths or ([1 << 20, 1 << 24] if full else [1 << 16, 1 << 20]):
                rows += stream_rows(cfg, device, total, chunk)
        if "transformer" not in args.skip:
            rows += transformer_rows(cfg, device, args.transformer_max or ((1 << 17) if full else 4096),
                                     args.repeats)
    finally:
        kernels.set_backend(previous)
    print(f"# model: d_model {cfg.d_model}, layers {cfg.n_layers}, d_state {cfg.d_state}; device "
          f"{torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'}; torch {torch.__version__}; "
          f"{torch.get_num_threads()} CPU threads")
    widths = [max(len(str(r[i])) for r in rows + [COLUMNS]) for i in range(len(COLUMNS))]
    for row in [COLUMNS, *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)))
    if args.tsv:
        from genomamba.atomic import atomic_open
        with atomic_open(args.tsv, newline="") as fh:
            csv.writer(fh, delimiter="\t", lineterminator="\n").writerows([COLUMNS, *rows])
    return 0


if __name__ == "__main__":
    sys.exit(main())
