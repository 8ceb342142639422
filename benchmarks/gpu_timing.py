"""Timing helpers of the GPU benchmark scripts (``model_vs_mamba_ssm.py``, ``step_profile.py``):
seconds per call, a training step as a function of no arguments, and the kernels' GPU time of one
call. They import nothing of genomamba, so that a script can choose which tree it imports."""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile


def seconds_per_call(fn, repeats: int) -> float:
    """The mean seconds of ``repeats`` calls of ``fn`` after a warm one."""
    fn()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats


def training_step(model, logits_of, tokens, set_to_none=True):
    """One forward + backward of ``model`` (``logits_of(tokens)``, cross-entropy against class 0) on
    (batch, L) tokens under bf16 autocast (without its weight cache, as the trainer), as a function
    of no arguments. ``set_to_none=False`` zeroes the gradients in place (a CUDA graph's step)."""
    labels = torch.zeros(tokens.shape[0], dtype=torch.long, device=tokens.device)

    def step():
        model.zero_grad(set_to_none=set_to_none)
        with torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False):
            logits = logits_of(tokens)
        F.cross_entropy(logits.float(), labels).backward()
    return step


def kernel_times(fn, top: int = 25) -> dict:
    """The GPU time of the kernels ``fn`` launches (one call after a warm-up), summed per kernel name:
    {"wall_us": one call without the profiler (where it is well above total_us, host time decides),
    "total_us": all kernels, "kernels": [[name, calls, microseconds], ...] largest first}."""
    wall = seconds_per_call(fn, 5)
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    rows = [(e.key, e.count, e.self_device_time_total) for e in prof.key_averages()
            if e.self_device_time_total > 0]
    rows.sort(key=lambda row: -row[2])
    return {"wall_us": round(wall * 1e6), "total_us": round(sum(row[2] for row in rows)),
            "kernels": [[name[:90], calls, round(us)] for name, calls, us in rows[:top]]}


def print_kernel_times(name: str, table: dict) -> None:
    """``kernel_times``' table, largest first."""
    print(f"\n{name}: {table['total_us'] / 1e3:.2f} ms of GPU time, "
          f"{table['wall_us'] / 1e3:.2f} ms per call")
    for kernel, calls, us in table["kernels"]:
        print(f"  {us / 1e3:8.3f} ms {calls:5d}x  {kernel}")
