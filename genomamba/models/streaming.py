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

import numpy as np
import torch
from torch import nn

from ..alphabet import COMPLEMENT, VOCAB_SIZE
from ..cuda_graphs import ChunkGraphs
from ..kernels import cpu_inference
from .config import ModelConfig
from .mamba import MambaBackbone
from .transformer import TransformerBackbone

_COMPLEMENT = torch.as_tensor(COMPLEMENT, dtype=torch.long)


def reverse_complement_tokens(tokens: torch.Tensor) -> torch.Tensor:
    """Reverse complement of a (batch, L) token tensor."""
    return _COMPLEMENT.to(tokens.device)[tokens.flip(-1)]


class StreamState:
    """What is carried between chunks: backbone layer states, the running sum and count."""

    def __init__(self, batch: int, d_model: int, device):
        self.layers = None
        self.total = torch.zeros(batch, d_model, dtype=torch.float64, device=device)
        self.count = 0
        self.pending = None
        self.window, self.on_windows = 0, None     # optional per-window summaries (see watch_windows)
        self.window_total, self.window_count, self.windows_seen = None, 0, 0

    def watch_windows(self, size: int, callback) -> None:
        """Also call ``callback(summaries)`` with the mean hidden state, shape (n, batch, d), of every
        window of ``size`` bases counted from the sequence start (the last one only if it is the
        first: a sequence shorter than a window is one window)."""
        self.window, self.on_windows = size, callback
        self.window_total = torch.zeros_like(self.total)

    def _add_windows(self, hidden: torch.Tensor) -> None:
        i, L = 0, hidden.shape[1]
        if self.window_count:                      # complete the window begun in an earlier chunk
            take = min(self.window - self.window_count, L)
            self.window_total = self.window_total + hidden[:, :take].sum(1, dtype=torch.float64)
            self.window_count += take
            i = take
            if self.window_count == self.window:
                self._emit((self.window_total / self.window)[None])
        full = (L - i) // self.window
        if full:
            block = hidden[:, i:i + full * self.window].unflatten(1, (full, self.window))
            self._emit((block.sum(2, dtype=torch.float64) / self.window).transpose(0, 1))
            i += full * self.window
        if i < L:
            self.window_total = hidden[:, i:].sum(1, dtype=torch.float64)
            self.window_count = L - i

    def _emit(self, summaries: torch.Tensor) -> None:
        self.on_windows(summaries.float())
        self.windows_seen += summaries.shape[0]
        self.window_total, self.window_count = torch.zeros_like(self.total), 0

    def _finish_windows(self) -> None:
        if self.window and self.window_count and not self.windows_seen:
            self._emit((self.window_total / self.window_count)[None])

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

    def replay_chunks(self, chunk: int | None) -> None:
        """On CUDA, without gradients, feed ``chunk``-base pieces after a record's first through a
        CUDA graph of the backbone (``genomamba.cuda_graphs.ChunkGraphs``; Mamba only, which
        streams); None: every piece eagerly. The hidden states that ``feed`` returns for such a
        piece are then valid until the next piece."""
        if self.streams:
            self.backbone.chunk_graphs = ChunkGraphs(chunk) if chunk else None

    def new_state(self, batch: int = 1) -> StreamState:
        return StreamState(batch, self.cfg.d_model, self.head.weight.device)

    def _summarise(self, tokens, state):
        hidden, state.layers = self.backbone(tokens, state.layers)
        state.total = state.total + cpu_inference.time_sums(hidden)
        state.count += tokens.shape[1]
        if state.window:
            state._add_windows(hidden)
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
        state._finish_windows()

    @staticmethod
    def pooled(state: StreamState) -> torch.Tensor:
        return (state.total / max(state.count, 1)).float()

    def strands(self, tokens: torch.Tensor) -> list[torch.Tensor]:
        """The strands a summary covers: the (batch, L) tokens and, with the RC option, their reverse
        complements."""
        if not self.cfg.rc_equivariant:
            return [tokens]
        return [tokens, reverse_complement_tokens(tokens)]

    @staticmethod
    def mean_of_strands(summaries) -> torch.Tensor:
        """The summary of a sequence from its strands' summaries (``strands`` order): their mean."""
        if len(summaries) == 1:
            return summaries[0]
        forward, reverse = summaries
        return (forward + reverse) / 2

    def summarise_windows(self, tokens: torch.Tensor, chunk_size: int | None = None) -> torch.Tensor:
        """Pooled summaries (batch, d_model) of equal-length windows, both strands where enabled (run
        as one batch)."""
        strands = self.strands(tokens)
        tokens = torch.cat(strands)
        state = self.new_state(tokens.shape[0])
        step = chunk_size or tokens.shape[1]
        for start in range(0, tokens.shape[1], step):
            self.feed(tokens[:, start:start + step], state)
        self.finish(state)
        return self.mean_of_strands(self.pooled(state).chunk(len(strands)))

    @torch.no_grad()
    def probabilities(self, summaries: torch.Tensor) -> np.ndarray:
        """(n, outputs) float64 softmax of the species head over (n, d_model) summaries: the species,
        then "no species" where the model has that class."""
        logits = self.head(summaries.to(self.head.weight.device).float()).float().cpu()
        return torch.softmax(logits, -1).numpy().astype(np.float64)


def build_model(cfg: ModelConfig, seed: int) -> SpeciesModel:
    """The same config and seed give the same weights (bitwise on CPU), whatever the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return SpeciesModel(cfg)
