"""Mamba (selective state space) blocks with their conv and SSM states carried between chunks.

Block (Gu & Dao 2023): h + out_proj(scan(silu(conv(x)), delta(x), A, B(x), C(x), D) * silu(z)),
with x, z = in_proj(RMSNorm(h)). Every layer takes and returns ``(conv_state, ssm_state)``:
(batch, d_inner, d_conv - 1) and (batch, d_inner, d_state); feeding a sequence in chunks with the
states carried gives the outputs of the whole sequence.

CPU inference (no gradient, kernel backend "auto", float32, numba present) takes ``_cpu_forward``:
the same arithmetic on buffers kept between calls (``_buffer``), so that a stream of chunks does not
ask the allocator for fresh pages at every chunk; delta's low-rank product (dt_proj) happens inside
the scan kernel, and each residual is added by its out_proj's matrix product in place. The matrix
products take float32 factors, or bfloat16 ones where ``cpu_inference.set_precision`` chose them
(float32 sums, the product rounded to bfloat16). Everything else (training, CUDA, other backends)
takes the modules' ``forward``; on CUDA, the streamed chunks of one length can be replayed from a
CUDA graph (``chunk_graphs``, ``genomamba.cuda_graphs``).
"""

from __future__ import annotations

import math
import threading

import torch
from torch import nn

from genomamba import kernels
from genomamba.cuda_graphs import ChunkGraphs
from genomamba.kernels import cpu_inference

from ..alphabet import VOCAB_SIZE
from .config import ModelConfig


class MambaMixer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        d, di, n, r = cfg.d_model, cfg.d_inner, cfg.d_state, cfg.rank
        self.d_state, self.rank = n, r
        self.in_proj = nn.Linear(d, 2 * di, bias=False)
        self.conv_weight = nn.Parameter(torch.empty(di, cfg.d_conv))
        self.conv_bias = nn.Parameter(torch.zeros(di))
        self.x_proj = nn.Linear(di, r + 2 * n, bias=False)
        self.dt_proj = nn.Linear(r, di, bias=False)
        self.dt_bias = nn.Parameter(torch.empty(di))
        # S4D-real initialisation: A = -(1..n) for every channel
        self.A_log = nn.Parameter(torch.log(torch.arange(1, n + 1, dtype=torch.float32)).repeat(di, 1))
        self.D = nn.Parameter(torch.ones(di))
        self.out_proj = nn.Linear(di, d, bias=False)
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.uniform_(self.conv_weight, -1 / math.sqrt(self.conv_weight.shape[1]),
                         1 / math.sqrt(self.conv_weight.shape[1]))
        nn.init.uniform_(self.dt_proj.weight, -self.rank ** -0.5, self.rank ** -0.5)
        # delta starts log-uniform in [1e-3, 1e-1]; the bias is its inverse softplus
        dt = torch.exp(torch.rand(self.dt_bias.shape) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
        with torch.no_grad():
            self.dt_bias.copy_(dt + torch.log(-torch.expm1(-dt)))

    def forward(self, h, state=None):
        conv_state, ssm_state = state if state is not None else (None, None)
        y, conv_state, ssm_state = kernels.mixer_core(
            self.in_proj(h), self.conv_weight, self.conv_bias, self.x_proj.weight,
            self.dt_proj.weight, self.A_log, self.D, self.dt_bias, conv_state, ssm_state)
        return self.out_proj(y), (conv_state, ssm_state)


class MambaBlock(nn.Module):
    """RMSNorm and mixer. The residual add of the block before it happens in the same pass as the
    norm (``kernels.add_rms_norm``): a block takes the residual stream without the previous block's
    output and returns its own output, as mamba_ssm's ``Block`` does."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.norm = nn.RMSNorm(cfg.d_model, eps=1e-5)
        self.mixer = MambaMixer(cfg)

    def forward(self, h, out, state=None):
        """h: the residual stream, out: the previous block's output (None for the first block); returns
        this block's output, the residual stream h + out and the mixer's new state."""
        normed, h = kernels.add_rms_norm(h, out, self.norm.weight, self.norm.eps, _normed_dtype(h))
        out, state = self.mixer(normed, state)
        return out, h, state


def _normed_dtype(h):
    """What the norm writes for the next matrix product: autocast's dtype where autocast is on."""
    device = h.device.type
    return torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else torch.float32


class MambaBackbone(nn.Module):
    """Tokens (batch, L) -> final hidden states (batch, L, d_model) in float32, with per-layer state
    carried."""

    streams = True

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.embed = nn.Embedding(VOCAB_SIZE, cfg.d_model)
        self.layers = nn.ModuleList(MambaBlock(cfg) for _ in range(cfg.n_layers))
        self.norm_f = nn.RMSNorm(cfg.d_model, eps=1e-5)
        self.chunk_graphs: ChunkGraphs | None = None   # SpeciesModel.replay_chunks

    def forward(self, tokens, states=None):
        if _cpu_inference(self, tokens):
            return _cpu_forward(self, tokens, states)
        if self.chunk_graphs is not None and self.chunk_graphs.applies(tokens, states):
            return self.chunk_graphs.run(self._forward, tokens, states, self.parameters())
        return self._forward(tokens, states)

    def _forward(self, tokens, states):
        h, out = self.embed(tokens), None
        states = states if states is not None else [None] * len(self.layers)
        new_states = []
        for layer, state in zip(self.layers, states):
            out, h, state = layer(h, out, state)
            new_states.append(state)
        normed, _ = kernels.add_rms_norm(h, out, self.norm_f.weight, self.norm_f.eps, torch.float32)
        return normed, new_states


_workspace = threading.local()   # this thread's buffers for _cpu_forward, by name
_KEEP = 1 << 23                  # elements: larger buffers (big evaluation batches) are not kept


def _buffer(name: str, *shape: int, dtype=torch.float32) -> torch.Tensor:
    """A tensor of ``shape`` on this thread's buffer ``name`` (contents undefined). The buffers
    outlive the call, so nothing that ``_cpu_forward`` returns may point into one."""
    numel = math.prod(shape)
    if numel > _KEEP:
        return torch.empty(shape, dtype=dtype)
    buffer = getattr(_workspace, name, None)
    if buffer is None or buffer.numel() < numel or buffer.dtype != dtype:
        with torch.inference_mode(False):   # a normal tensor, which no_grad code may also write to
            buffer = torch.empty(numel, dtype=dtype)
        setattr(_workspace, name, buffer)
    return buffer[:numel].view(shape)


def _product(x, weight, out, add: bool = False):
    """out = x weight^T (+= with ``add``), the factors in ``cpu_inference.product_dtype()``: float32,
    or bfloat16 (rounded copies; the sums in float32, the product rounded to bfloat16 before it is
    written or added)."""
    weight, dtype = weight.detach(), cpu_inference.product_dtype()
    if dtype == torch.float32:
        return out.addmm_(x, weight.t()) if add else torch.mm(x, weight.t(), out=out)
    factor = _buffer("factor", *x.shape, dtype=dtype).copy_(x)
    product = _buffer("product", x.shape[0], weight.shape[0], dtype=dtype)
    torch.mm(factor, weight.t().to(dtype), out=product)
    return out.add_(product) if add else out.copy_(product)


def _cpu_inference(backbone: "MambaBackbone", tokens) -> bool:
    weight = backbone.embed.weight
    return (tokens.device.type == "cpu" and weight.device.type == "cpu" and weight.dtype == torch.float32
            and kernels.get_backend() == "auto" and cpu_inference.available()
            and not (torch.is_grad_enabled() and weight.requires_grad) and tokens.shape[1] > 0)


def _cpu_forward(backbone: "MambaBackbone", tokens, states):
    """``MambaBackbone.forward`` on CPU without gradients (see the module's docstring)."""
    batch, L = tokens.shape
    d = backbone.embed.embedding_dim
    embeddings, tokens = backbone.embed.weight.detach(), tokens.reshape(-1)
    h = torch.index_select(embeddings, 0, tokens, out=_buffer("h", batch * L, d))
    normed = _buffer("normed", batch * L, d)
    states = states if states is not None else [None] * len(backbone.layers)
    new_states = []
    for i, (layer, state) in enumerate(zip(backbone.layers, states)):
        in_proj = layer.mixer.in_proj.weight.detach()
        xz = _buffer("xz", batch * L, in_proj.shape[0])
        if i == 0:   # each input is one of the vocabulary's embeddings: in_proj(norm(.)) looked up
            table = torch.empty_like(embeddings)
            cpu_inference.rms_norm(embeddings, layer.norm.weight, layer.norm.eps, table)
            torch.index_select(table @ in_proj.t(), 0, tokens, out=xz)
        else:
            cpu_inference.rms_norm(h, layer.norm.weight, layer.norm.eps, normed)
            _product(normed, in_proj, xz)
        new_states.append(_cpu_mixer(layer.mixer, xz, h, batch, L, state))
    out = torch.empty(batch * L, d)
    cpu_inference.rms_norm(h, backbone.norm_f.weight, backbone.norm_f.eps, out)
    return out.view(batch, L, d), new_states


def _cpu_mixer(mixer: MambaMixer, xz, h, batch: int, L: int, state):
    """Adds the mixer's output to the residual ``h`` (batch * L, d) in place, from its in_proj output
    ``xz`` (batch * L, 2 d_inner); returns its new (conv_state, ssm_state)."""
    di, n, r = mixer.D.shape[0], mixer.d_state, mixer.rank
    K = mixer.conv_weight.shape[1]
    conv_state, ssm_state = state if state is not None else (None, None)
    xz = xz.view(batch, L, 2 * di)
    x, z = xz[..., :di], xz[..., di:]
    before = (conv_state.transpose(1, 2).contiguous() if conv_state is not None   # (batch, K - 1, di)
              else torch.zeros(batch, K - 1, di))
    u = _buffer("u", batch, L, di)
    cpu_inference.conv_into(x, mixer.conv_weight.detach().t().contiguous(), mixer.conv_bias, before, u)
    # the last K - 1 inputs, copied out of the buffer
    last = (x[:, L - (K - 1):] if L >= K - 1 else torch.cat([before, x], 1)[:, L:]).transpose(1, 2).clone()
    proj = _product(u.view(batch * L, di), mixer.x_proj.weight,
                    _buffer("proj", batch * L, r + 2 * n)).view(batch, L, r + 2 * n)
    low, B, C = proj[..., :r], proj[..., r:r + n], proj[..., r + n:]
    ssm = (ssm_state.transpose(1, 2).contiguous() if ssm_state is not None    # (batch, N, di)
           else torch.zeros(batch, n, di))
    A2 = (torch.exp(mixer.A_log.detach().float()) * -math.log2(math.e)).t().contiguous()
    y = _buffer("y", batch, L, di)
    cpu_inference.scan_into(u, low, mixer.dt_proj.weight.detach().t().contiguous(), z, B, C, A2, mixer.D,
                            mixer.dt_bias, ssm, y)
    _product(y.view(batch * L, di), mixer.out_proj.weight, h, add=True)
    return last, ssm.transpose(1, 2)
