"""The selective scan's launch plan: which forward and backward run, tile and chunk sizes, and how
L is cut into chunks that run side by side. ``set_config`` changes it (tests, benchmarks)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import torch

from .launch import cdiv, next_power_of_2


@dataclass(frozen=True)
class ScanConfig:
    """Launch plan. Two forwards: "step" (each thread steps its channels' states through time, L cut
    into chunks that run side by side after a summary pass; faster on large inputs) and "tiled" (one
    channel per program, tiles of tile_t steps scanned in parallel; fewer launches, faster on small
    inputs); "auto" picks step from fwd_step_min_elements = batch x dim x L on. Two backwards:
    "step" (the step forward's layout, stepping back through 4-step tiles whose states it recomputes
    from the checkpoints) and "tiled" (bwd_block_k channels per program, tiles of bwd_tile_t steps);
    "auto" picks step from bwd_step_min_elements on. The thresholds are where the step kernels'
    extra launches and copies stop costing more host time than they save on the H100
    (docs/benchmarks.md). Either backward runs chunks of L side by side; the forward checkpoints the
    state every bwd_tile_t steps for it."""
    fwd_kernel: str = "auto"   # "auto", "step" or "tiled"
    bwd_kernel: str = "auto"   # "auto", "step" or "tiled"
    fwd_step_min_elements: int = 1 << 24
    bwd_step_min_elements: int = 1 << 23
    step_block_d: int = 32     # step forward: channels per program (one warp: 16 per thread)
    step_warps: int = 1
    bwd_step_block_d: int = 32  # step backward: channels per program
    bwd_step_warps: int = 1
    step_unroll: int = 8       # step forward: steps per tile (4, 8 or 16)
    step_programs_per_sm: int = 64
    step_max_chunks: int = 512
    tile_t: int = 256          # tiled forward: steps per tile
    tile_warps: int = 2
    tile_stages: int = 2       # software-pipelining depth of the tiled forward's loop
    fwd_chunk_below: int = 3   # the tiled forward cuts L into chunks only below this many rows per SM
    fwd_programs_per_sm: int = 16  # and then aims for this many programs per multiprocessor
    fwd_chunks: int | None = None  # force the forward's chunk count (tests, tuning)
    bwd_tile_t: int = 128      # backward steps per tile; the forward checkpoints every bwd_tile_t
    bwd_warps: int = 2
    bwd_stages: int = 1        # software-pipelining depth of the backward's channel loop
    bwd_block_k: int = 16      # channels per backward program (their dB, dC summed in registers)
    programs_per_sm: int = 16  # aim for this many backward programs per multiprocessor
    max_chunks: int = 256      # a bound on chunks of L (the tiled forward folds its predecessors')
    bwd_chunks: int | None = None  # force a chunk count (tests, tuning)

    def __post_init__(self):
        for name in ("fwd_kernel", "bwd_kernel"):
            if getattr(self, name) not in ("auto", "step", "tiled"):
                raise ValueError(f"{name} must be auto, step or tiled, not {getattr(self, name)!r}")
        if self.step_unroll not in (4, 8, 16) or self.bwd_tile_t % 4:
            raise ValueError("step_unroll must be 4, 8 or 16 and bwd_tile_t a multiple of 4")


DEFAULT_CONFIG = ScanConfig()
_config = DEFAULT_CONFIG


def get_config() -> ScanConfig:
    """The launch plan in force."""
    return _config


def set_config(**changes) -> ScanConfig:
    """Change the launch plan (benchmarks and tests); returns the previous one."""
    global _config
    previous, _config = _config, replace(_config, **changes)
    return previous


def largest_pow2_dividing(n: int, cap: int) -> int:
    """The largest power of two up to cap that divides n."""
    block = 1
    while block * 2 <= cap and n % (block * 2) == 0:
        block *= 2
    return block


@functools.cache
def sm_count(device) -> int:
    """Multiprocessors of a CUDA device (2 elsewhere: the interpreter's small plans)."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).multi_processor_count
    return 2


def chunks(L, rows, per_sm, sms, align, cfg, forced) -> tuple[int, int]:
    """(chunk length, chunk count): chunks of L, multiples of align, to give rows x chunks programs
    about per_sm per multiprocessor."""
    n_chunks = forced or cdiv(per_sm * sms, rows)
    n_chunks = max(1, min(n_chunks, cfg.max_chunks, cdiv(L, align)))
    chunk_len = cdiv(cdiv(L, n_chunks), align) * align
    return chunk_len, cdiv(L, chunk_len)


def step_chunks(L, rows, unit, forced, cfg, device) -> tuple[int, int]:
    """(chunk length, chunk count) for the step kernels: about step_programs_per_sm programs per
    multiprocessor over rows channel blocks, chunks a power of two times unit long (unit: the
    forward's steps per iteration or the backward's checkpoint interval). Chunk lengths that are not
    powers of two ran much slower on the H100 (docs/benchmarks.md)."""
    n_chunks = forced or cdiv(cfg.step_programs_per_sm * sm_count(device), rows)
    n_chunks = min(n_chunks, cfg.step_max_chunks)
    chunk_len = unit * next_power_of_2(cdiv(L, n_chunks * unit))
    return chunk_len, cdiv(L, chunk_len)


def takes_step(choice: str, elements: int, min_elements: int) -> bool:
    """Whether a direction runs its step kernel: forced, or "auto" from min_elements on."""
    return choice == "step" or (choice == "auto" and elements >= min_elements)
