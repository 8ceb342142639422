"""The whole species model against the same architecture built from the Mamba authors' modules (GPU).

    python benchmarks/model_vs_mamba_ssm.py --peer PEER [--out FILE.json] [--batch 8] [--length 16384]
        [--repeats 5] [--long 20 22 24] [--profile] [--build-only [EXTENSION ...]] [--prebuilt DIR]

PEER is a folder outside the repository holding the authors' sources, which this script compiles with
torch's cpp_extension on first use (``TORCH_EXTENSIONS_DIR`` caches the build; ``--build-only``
compiles and exits, so that a device call can build on the CPU while the GPU does other work, then
time with the cached build):

    PEER/csrc/                        state-spaces/mamba csrc/selective_scan/* (flat)
    PEER/mamba_ssm/                   state-spaces/mamba mamba_ssm/ (ops/selective_scan_interface.py,
                                      ops/triton/{layer_norm,selective_state_update}.py, utils/,
                                      modules/{mamba_simple,block}.py)
    PEER/cc/csrc/, PEER/cc/causal_conv1d/   Dao-AILab/causal-conv1d csrc/ and causal_conv1d/

Both models: d_model 128, 4 layers, d_state 16, expand 2, conv 4, RMSNorm before each block and at the
end, mean-pooled hidden states into a linear head, bf16 autocast, cross-entropy. The authors' model is
their ``Block(Mamba)`` stack with fused add + RMSNorm, once with their causal-conv1d kernel (their fast
path) and once without it (``nn.Conv1d``, their fallback). Timed in one process on the same tokens,
alternating ``ours, theirs (fast), theirs (slow), ours`` (ours: the mean of its two runs): the forward and the training step
(forward + backward) of a batch, then one long record without gradients, theirs as one
whole-sequence forward, ours streamed in 2^18-base chunks with the state carried (replayed from a
CUDA graph, as the classifiers stream, and eagerly), each timed as the mean of two calls after a
warm one. The training step is also timed for both models as a CUDA graph (as our trainer runs it
on CUDA; theirs would need the user to capture it). Ratios are the
authors' time over ours (> 1: ours is faster). ``--profile`` adds where the GPU time goes: the
kernels of one training step of each model and of one streamed chunk of ours (torch.profiler,
summed per kernel name, largest first), into the JSON and printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gpu_timing import kernel_times, print_kernel_times, seconds_per_call, training_step  # noqa: E402
from genomamba.bench import model as bench_model  # noqa: E402
from genomamba.models import ModelConfig  # noqa: E402
from genomamba.cuda_graphs import capture  # noqa: E402

# In the order ../shared/device/peers/side_by_side.py passes them (the gencode goes before
# "--threads"), so that both reuse one cached build of the scan.
NVCC_FLAGS = ["-O3", "-std=c++17", "-U__CUDA_NO_HALF_OPERATORS__", "-U__CUDA_NO_HALF_CONVERSIONS__",
              "-U__CUDA_NO_BFLOAT16_OPERATORS__", "-U__CUDA_NO_BFLOAT16_CONVERSIONS__",
              "-U__CUDA_NO_BFLOAT162_OPERATORS__", "-U__CUDA_NO_BFLOAT162_CONVERSIONS__",
              "--expt-relaxed-constexpr", "--expt-extended-lambda", "--use_fast_math"]


# the authors' CUDA extensions, by module name, and their sources' folder in PEER
EXTENSIONS = {"selective_scan_cuda": "csrc", "causal_conv1d_cuda": "cc/csrc"}


def import_prebuilt(name: str, prebuilt: Path):
    """The extension ``name`` imported from ``prebuilt/NAME.so`` (compiled by an earlier call on
    the same machine type) and registered as a module."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, Path(prebuilt) / f"{name}.so")
    sys.modules[name] = module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_extension(name: str, sources: Path, prebuilt: Path | None = None) -> None:
    """Compile the CUDA extension ``name`` from ``sources`` for this GPU and register it as a module;
    a ``prebuilt/NAME.so`` is imported instead (``import_prebuilt``)."""
    if prebuilt is not None and (prebuilt / f"{name}.so").is_file():
        import_prebuilt(name, prebuilt)
        return
    from torch.utils.cpp_extension import load
    major, minor = torch.cuda.get_device_capability()
    sources = sources.resolve()   # absolute, as side_by_side.py names them: one cached build
    files = sorted(str(p) for p in sources.iterdir() if p.suffix in (".cu", ".cpp"))
    sys.modules[name] = load(name=name, sources=files, extra_include_paths=[str(sources)],
                             extra_cflags=["-O3", "-std=c++17"], verbose=False,
                             extra_cuda_cflags=NVCC_FLAGS + [f"-gencode=arch=compute_{major}{minor},"
                                                             f"code=sm_{major}{minor}", "--threads", "4"])


def peer_model_class():
    """The authors' stack as a species model: embedding, Block(Mamba) x n, RMSNorm, mean pool, head."""
    from mamba_ssm.modules.block import Block
    from mamba_ssm.modules.mamba_simple import Mamba
    from mamba_ssm.ops.triton.layer_norm import RMSNorm, layer_norm_fn

    class PeerModel(nn.Module):
        def __init__(self, cfg: ModelConfig, vocab: int = 16):
            super().__init__()
            self.embedding = nn.Embedding(vocab, cfg.d_model)
            self.layers = nn.ModuleList(
                Block(cfg.d_model, lambda dim, i=i: Mamba(dim, d_state=cfg.d_state, d_conv=cfg.d_conv,
                                                          expand=cfg.expand, layer_idx=i),
                      nn.Identity, norm_cls=lambda dim: RMSNorm(dim, eps=1e-5), fused_add_norm=True,
                      residual_in_fp32=True)
                for i in range(cfg.n_layers))
            self.norm_f = RMSNorm(cfg.d_model, eps=1e-5)
            self.head = nn.Linear(cfg.d_model, cfg.n_classes)

        def forward(self, tokens):
            h, residual = self.embedding(tokens), None
            for layer in self.layers:
                h, residual = layer(h, residual)
            h = layer_norm_fn(h, self.norm_f.weight, self.norm_f.bias, eps=1e-5, residual=residual,
                              prenorm=False, residual_in_fp32=True, is_rms_norm=True)
            return self.head(h.float().mean(1))

    return PeerModel


def peer_throughput(model_class, cfg, batch, length, repeats) -> dict:
    torch.manual_seed(0)
    model = model_class(cfg).cuda()
    tokens = torch.randint(0, 4, (batch, length), device="cuda")

    @torch.no_grad()
    def forward():
        with torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False):
            model(tokens)

    rates = {metric: batch * length / seconds_per_call(fn, repeats)
             for metric, fn in (("forward", forward),
                                ("forward+backward", training_step(model, model, tokens)))}
    # their step as a CUDA graph too (last: the graph writes into the gradients it captured)
    graph, _ = capture(training_step(model, model, tokens, set_to_none=False))
    rates["forward+backward, CUDA graph"] = batch * length / seconds_per_call(graph.replay, repeats)
    return rates


def profiles(model_class, cfg, batch, length) -> dict:
    """Kernel times of a training step of ours (eager and replayed from a CUDA graph) and of theirs,
    and of one streamed chunk of ours."""
    from genomamba.models import build_model
    torch.manual_seed(0)
    ours = build_model(cfg, seed=0).cuda()
    theirs = model_class(cfg).cuda()
    tokens = torch.randint(0, 4, (batch, length), device="cuda")
    out = {"ours, training step": kernel_times(training_step(
               ours, lambda t: ours.head(ours.summarise_windows(t)), tokens)),
           "theirs, training step": kernel_times(training_step(theirs, theirs, tokens))}
    graph, _ = capture(training_step(ours, lambda t: ours.head(ours.summarise_windows(t)), tokens,
                                     set_to_none=False))
    out["ours, training step, CUDA graph"] = kernel_times(graph.replay)
    ours.eval()
    piece = torch.randint(0, 4, (1, 2 ** 18), device="cuda")
    state = ours.new_state(1)

    @torch.inference_mode()
    def chunk():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            ours.feed(piece, state)
    out["ours, one streamed 2^18 chunk"] = kernel_times(chunk)
    return out


def ours_throughput(cfg, batch, length, repeats) -> dict:
    rows = bench_model.throughput_rows(cfg, torch.device("cuda"), batch, length, repeats, "auto")
    return {row[6]: row[7] for row in rows}


def ours_stream(cfg, length: int, graphs: bool, chunk: int = 2 ** 18) -> tuple[float, int]:
    """(tokens/s, peak bytes) of our stream of one record of ``length`` bases in ``chunk``-base
    pieces, the state carried, timed as theirs is (a warm call, then the mean of two); with
    ``graphs``, the pieces after the first replayed from a CUDA graph, as the classifiers stream."""
    from genomamba.models import build_model
    model = build_model(cfg, seed=0).cuda().eval()
    model.replay_chunks(chunk if graphs else None)
    piece = torch.randint(0, 4, (1, chunk), device="cuda")   # reused: no input growth

    @torch.inference_mode()
    def stream():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            state = model.new_state(1)
            for start in range(0, length, chunk):
                model.feed(piece[:, :min(chunk, length - start)], state)
            return model.pooled(state)

    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    rate = length / seconds_per_call(stream, 2)
    return rate, torch.cuda.max_memory_allocated()


def long_record(model_class, cfg, length: int) -> dict:
    """One record of ``length`` bases: the authors' whole-sequence forward against our stream, both
    timed after a warm call (their allocations, our kernels' compiles and buffers, are ready)."""
    out = {"L": length}
    try:
        torch.manual_seed(0)
        model = model_class(cfg).cuda().eval()
        tokens = torch.randint(0, 4, (1, length), device="cuda")
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            out["theirs_tokens_per_s"] = length / seconds_per_call(lambda: model(tokens), 2)
        out["theirs_peak_bytes"] = torch.cuda.max_memory_allocated()
        model = tokens = None   # freed before our stream's peak is taken
    except torch.cuda.OutOfMemoryError as error:
        out["theirs_error"] = str(error).splitlines()[0]
    out["ours_tokens_per_s"], out["ours_peak_bytes"] = ours_stream(cfg, length, graphs=True)
    out["ours_eager_tokens_per_s"], _ = ours_stream(cfg, length, graphs=False)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--length", type=int, default=16384)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--long", type=int, nargs="*", default=[20, 22, 24], metavar="LOG2_L")
    parser.add_argument("--profile", action="store_true", help="add the kernels' GPU times per model")
    parser.add_argument("--build-only", nargs="*", choices=sorted(EXTENSIONS), default=None,
                        metavar="EXTENSION", help="compile the authors' extensions (all, or those named: "
                        f"{', '.join(sorted(EXTENSIONS))}), then exit")
    parser.add_argument("--prebuilt", type=Path, default=None,
                        help="a folder of compiled extensions (NAME.so) to import instead of compiling")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("model_vs_mamba_ssm: needs a CUDA GPU (the authors' kernels are CUDA only)", file=sys.stderr)
        return 2

    sys.path[:0] = [str(args.peer), str(args.peer / "cc")]
    result = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "batch": args.batch,
              "length": args.length, "rows": [], "long": []}

    def save():
        if args.out:
            args.out.write_text(json.dumps(result, indent=1))

    started = time.perf_counter()
    for name, sources in EXTENSIONS.items():
        if args.build_only is None or not args.build_only or name in args.build_only:
            build_extension(name, args.peer / sources, args.prebuilt)
    result["build_s"] = round(time.perf_counter() - started)
    if args.build_only is not None:
        print(f"model_vs_mamba_ssm: extensions built in {result['build_s']} s")
        return 0
    from mamba_ssm.modules import mamba_simple
    fast_conv = mamba_simple.causal_conv1d_fn
    if fast_conv is None:
        print("model_vs_mamba_ssm: the authors' causal_conv1d did not import", file=sys.stderr)
        return 2
    model_class = peer_model_class()
    cfg = ModelConfig(arch="mamba", n_classes=5, d_model=128, n_layers=4, d_state=16)

    def theirs(conv):
        def run():
            mamba_simple.causal_conv1d_fn = conv
            try:
                return peer_throughput(model_class, cfg, args.batch, args.length, args.repeats)
            finally:
                mamba_simple.causal_conv1d_fn = fast_conv
        return run

    plan = [("genomamba", lambda: ours_throughput(cfg, args.batch, args.length, args.repeats)),
            ("mamba_ssm, causal-conv1d kernel", theirs(fast_conv)),
            ("mamba_ssm, nn.Conv1d", theirs(None)),
            ("genomamba, again", lambda: ours_throughput(cfg, args.batch, args.length, args.repeats))]
    for name, run in plan:
        try:
            result["rows"].append({"model": name, **run()})
        except Exception:
            result["rows"].append({"model": name, "error": traceback.format_exc()[-800:]})
        save()
        print(json.dumps(result["rows"][-1]), flush=True)
    for log2 in args.long:
        result["long"].append(long_record(model_class, cfg, 2 ** log2))
        save()
        print(json.dumps(result["long"][-1]), flush=True)

    if args.profile:
        result["profiles"] = profiles(model_class, cfg, args.batch, args.length)
        save()
        for name, table in result["profiles"].items():
            print_kernel_times(name, table)

    ours = [r for r in result["rows"] if r["model"].startswith("genomamba") and "error" not in r]
    print(f"\n{result['device']}, batch {args.batch} x {args.length}, bf16; ratio = their time / ours")
    for row in result["rows"]:
        if row["model"].startswith("genomamba") or "error" in row:
            continue
        for metric in ("forward", "forward+backward", "forward+backward, CUDA graph"):
            if metric not in row:
                continue
            mine = sum(r[metric] for r in ours) / len(ours) if ours else float("nan")
            print(f"{row['model']:35s} {metric:17s} theirs {row[metric] / 1e6:6.2f} M tokens/s, "
                  f"ours {mine / 1e6:6.2f}: {mine / row[metric]:.2f}x")
    for row in result["long"]:
        theirs_rate = row.get("theirs_tokens_per_s")
        text = (f"{theirs_rate / 1e6:6.2f} M tokens/s, {row['theirs_peak_bytes'] / 1e9:5.2f} GB"
                if theirs_rate else row.get("theirs_error", "failed"))
        ratio = f"{row['ours_tokens_per_s'] / theirs_rate:.2f}x" if theirs_rate else "-"
        print(f"record 2^{row['L'].bit_length() - 1}: theirs {text}; ours streamed "
              f"{row['ours_tokens_per_s'] / 1e6:6.2f} M tokens/s, {row['ours_peak_bytes'] / 1e9:5.2f} GB: {ratio}"
              f" (eager chunks {row['ours_eager_tokens_per_s'] / 1e6:6.2f} M tokens/s)")
    save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
