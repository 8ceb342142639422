"""The species model: a backbone, a streaming pooled summary, a species head and a next-base head.

The summary of a sequence is the mean of its final hidden states, kept as a running float64 sum and
a count in a ``StreamState`` with the backbone's carried layer states; so it is exact under any
chunking (up to float rounding) and takes constant memory.

* Mamba streams its state: ``feed`` takes chunks of any size.
* The Transformer has no state: ``feed`` keeps at most ``max_context - 1`` pending tokens and
  summarises each complete window on its own; ``finish`` takes the last, shorter window. Its summary
  is the length-weighted mean over consecutive windows starting at the sequence start.

RC-invariant option (``rc_equivariant``): a sequence's summary is the mean of the summaries of its
strand and of its reverse complement, computed by the same causal model, so a sequence and its
reverse complement get the same summary, hence the same call. Cost: twice the compute, and in
streaming the reverse strand needs the record's end first, so the tokens of one record are kept
(1 byte per base; activations stay constant). The default (off) streams in constant memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import torch
from torch import nn

from ..alphabet import COMPLEMENT, VOCAB_SIZE
from .config import ModelConfig
from .mamba import MambaBackbone
from .transformer import TransformerBackbone

_COMPLEMENT = torch.as_tensor(COMPLEMENT, dtype=torch.long)


def reverse_complement_tokens(tokens: torch.Tensor) -> torch.Tensor:
    """Reverse complement of a (batch, L) token tensor."""
    return _COMPLEMENT.to(tokens.device)[tokens.flip(-1)]


def rechunk(chunks: Iterable[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """Cut a stream of token arrays of any sizes into arrays of ``size`` (the last may be shorter)."""
    pending, held = [], 0
    for chunk in chunks:
        chunk = np.asarray(chunk, dtype=np.uint8)
        while len(chunk):
            take = min(size - held, len(chunk))
            pending.append(chunk[:take])
            held += take
            chunk = chunk[take:]
            if held == size:
                yield np.concatenate(pending)
                pending, held = [], 0
    if held:
        yield np.concatenate(pending)


class StreamState:
    """What is carried between chunks: backbone layer states, the running sum and count."""

    def __init__(self, batch: int, d_model: int, device):
        self.layers = None
        self.total = torch.zeros(batch, d_model, dtype=torch.float64, device=device)
        self.count = 0
        self.pending = None

    def detach(self) -> None:
        """Cut the gradient here (truncated backpropagation through time)."""
        if self.layers is not None:
            self.layers = [tuple(s.detach() for s in layer) for layer in self.layers]
        self.total = self.total.detach()


class SpeciesModel(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.backbone = MambaBackbone(cfg) if cfg.arch == "mamba" else TransformerBackbone(cfg)
        self.head = nn.Linear(cfg.d_model, cfg.n_classes)
        self.lm_head = nn.Linear(cfg.d_model, VOCAB_SIZE) if cfg.arch == "mamba" else None

    @property
    def streams(self) -> bool:
        return self.backbone.streams

    def new_state(self, batch: int = 1) -> StreamState:
        return StreamState(batch, self.cfg.d_model, self.head.weight.device)

    def _summarise(self, tokens, state):
        hidden, state.layers = self.backbone(tokens, state.layers)
        state.total = state.total + hidden.sum(1, dtype=torch.float64)
        state.count += tokens.shape[1]
        return hidden

    def feed(self, tokens: torch.Tensor, state: StreamState):
        """Add (batch, L) tokens to the summary; returns the hidden states where it streams."""
        if self.streams:
            return self._summarise(tokens, state)
        if state.pending is not None:
            tokens = torch.cat([state.pending, tokens], dim=1)
        window = self.cfg.max_context
        full = tokens.shape[1] // window * window
        for start in range(0, full, window):
            self._summarise(tokens[:, start:start + window], state)
        state.pending = tokens[:, full:] if full < tokens.shape[1] else None
        return None

    def finish(self, state: StreamState) -> None:
        if state.pending is not None:
            self._summarise(state.pending, state)
            state.pending = None

    @staticmethod
    def pooled(state: StreamState) -> torch.Tensor:
        return (state.total / max(state.count, 1)).float()

    def strands(self, tokens: torch.Tensor) -> torch.Tensor:
        """With the RC option, a batch of windows followed by their reverse complements."""
        if not self.cfg.rc_equivariant:
            return tokens
        return torch.cat([tokens, reverse_complement_tokens(tokens)])

    def combine_strands(self, pooled: torch.Tensor) -> torch.Tensor:
        if not self.cfg.rc_equivariant:
            return pooled
        half = pooled.shape[0] // 2
        return (pooled[:half] + pooled[half:]) / 2

    def summarise_windows(self, tokens: torch.Tensor, chunk_size: int | None = None) -> torch.Tensor:
        """Pooled summaries (batch, d_model) of equal-length windows, both strands where enabled."""
        tokens = self.strands(tokens)
        state = self.new_state(tokens.shape[0])
        step = chunk_size or tokens.shape[1]
        for start in range(0, tokens.shape[1], step):
            self.feed(tokens[:, start:start + step], state)
        self.finish(state)
        return self.combine_strands(self.pooled(state))


def build_model(cfg: ModelConfig, seed: int) -> SpeciesModel:
    """The same config and seed give the same weights (bitwise on CPU), whatever the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return SpeciesModel(cfg)
