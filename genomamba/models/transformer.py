"""A pre-norm Transformer encoder on ``scaled_dot_product_attention`` (FlashAttention on GPU).

Same tokens and embedding width as the Mamba model; fixed sinusoidal positions up to ``max_context``
(no parameters, so sizes compare with Mamba's on equal terms).
It has no state to carry: a long sequence is scored by consecutive windows of ``max_context``
(see ``models.streaming``), each seeing only itself.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..alphabet import VOCAB_SIZE
from .config import ModelConfig


class EncoderLayer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        d = cfg.d_model
        self.n_heads = cfg.n_heads
        self.norm1, self.norm2 = nn.RMSNorm(d, eps=1e-5), nn.RMSNorm(d, eps=1e-5)
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.proj = nn.Linear(d, d, bias=False)
        self.mlp = nn.Sequential(nn.Linear(d, cfg.mlp_ratio * d), nn.GELU(), nn.Linear(cfg.mlp_ratio * d, d))

    def forward(self, h):
        b, L, d = h.shape
        q, k, v = self.qkv(self.norm1(h)).view(b, L, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        attn = F.scaled_dot_product_attention(q, k, v)                 # bidirectional
        h = h + self.proj(attn.transpose(1, 2).reshape(b, L, d))
        return h + self.mlp(self.norm2(h))


def sinusoidal_positions(length: int, d: int) -> torch.Tensor:
    position = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * (-math.log(10000.0) / d))
    table = torch.zeros(length, d)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq)[:, : d // 2]
    return table


class TransformerBackbone(nn.Module):
    """Tokens (batch, L <= max_context) -> hidden states (batch, L, d_model)."""

    streams = False

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.max_context = cfg.max_context
        self.embed = nn.Embedding(VOCAB_SIZE, cfg.d_model)
        self.register_buffer("pos", sinusoidal_positions(cfg.max_context, cfg.d_model), persistent=False)
        self.layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.n_layers))
        self.norm_f = nn.RMSNorm(cfg.d_model, eps=1e-5)

    def forward(self, tokens, states=None):
        L = tokens.shape[1]
        if L > self.max_context:
            raise ValueError(f"window of {L} tokens is longer than max_context {self.max_context}")
        h = self.embed(tokens) + self.pos[:L]
        for layer in self.layers:
            h = layer(h)
        return self.norm_f(h), None
