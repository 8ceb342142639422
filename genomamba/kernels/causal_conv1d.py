"""The depthwise causal conv1d with carried state: Triton kernels (forward and backward), their
launcher and autograd function. The PyTorch reference is ``reference.causal_conv1d_ref``.

xc = concat(initial_states, x) along L (width-1 + L columns);
out_p = act(bias + sum_k w_k xc_{p+k}).
The backward walks xc positions j: dxc_j = sum_k w_k dpre_{j-k}, where dpre is recomputed from x;
positions before width-1 are the gradient of the initial states.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .layout import empty_like_layout, is_channels_last


MAX_WIDTH = 4   # the backward names each of its 2 * MAX_WIDTH - 1 shifted tiles (as causal-conv1d: 2-4)


@triton.jit
def _xc(x_row, init_row, in_d, i, L, stride_x_len, stride_init_len, WIDTH: tl.constexpr, near_start):
    """xc at columns i as fp32 (a (BLOCK_D, BLOCK_L) tile), zero outside [0, L + WIDTH - 1).
    x_row, init_row: (BLOCK_D, 1) pointers to this program's channels of x and of the initial states;
    in_d: (BLOCK_D, 1) channel mask; near_start: whether i may reach the initial states' columns (only
    then are they loaded)."""
    v = tl.load(x_row + (i - (WIDTH - 1)) * stride_x_len,
                mask=in_d & (i >= WIDTH - 1) & (i < L + WIDTH - 1), other=0.0).to(tl.float32)
    if near_start:
        v += tl.load(init_row + i * stride_init_len, mask=in_d & (i >= 0) & (i < WIDTH - 1),
                     other=0.0).to(tl.float32)
    return v


@triton.jit
def _tap(w_ptr, offs_d, mask_d, stride_w_dim, stride_w_width, m: tl.constexpr, WIDTH: tl.constexpr):
    """Weight m of this program's channels as a (BLOCK_D, 1) fp32 column; zero for m >= WIDTH."""
    if m < WIDTH:
        w = tl.load(w_ptr + offs_d * stride_w_dim + m * stride_w_width, mask=mask_d,
                    other=0.0).to(tl.float32)
    else:
        w = tl.zeros(offs_d.shape, tl.float32)
    return w[:, None]


@triton.jit
def _shifted(x_row, init_row, in_d, j, s: tl.constexpr, L, stride_x_len, stride_init_len,
             WIDTH: tl.constexpr, near_start):
    """xc at columns j + s, for the shifts |s| < WIDTH that the backward reads; zero for the others."""
    if s > -WIDTH and s < WIDTH:
        v = _xc(x_row, init_row, in_d, j + s, L, stride_x_len, stride_init_len, WIDTH, near_start)
    else:
        v = tl.zeros((in_d & (j >= 0)).shape, tl.float32)
    return v


@triton.jit
def _program_channels(bias_ptr, dim, n_dblocks, BLOCK_D: tl.constexpr, HAS_BIAS: tl.constexpr):
    """This program's batch row, channels, channel mask and (BLOCK_D, 1) fp32 bias."""
    pid = tl.program_id(0)
    b = (pid // n_dblocks).to(tl.int64)
    offs_d = (pid % n_dblocks) * BLOCK_D + tl.arange(0, BLOCK_D)
    mask_d = offs_d < dim
    bias = tl.zeros([BLOCK_D], dtype=tl.float32)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    return b, offs_d, mask_d, bias[:, None]


@triton.jit
def _conv_fwd_kernel(
        # inputs (bias: None unless HAS_BIAS), output
        x_ptr, init_ptr, w_ptr, bias_ptr, out_ptr,
        # sizes
        dim, L, n_dblocks,
        # strides
        stride_x_batch, stride_x_dim, stride_x_len,
        stride_init_batch, stride_init_dim, stride_init_len,
        stride_w_dim, stride_w_width,
        stride_out_batch, stride_out_dim, stride_out_len,
        # tile and options
        WIDTH: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_L: tl.constexpr,
        HAS_BIAS: tl.constexpr, SILU: tl.constexpr):
    """out over one (BLOCK_D, BLOCK_L) tile of positions p: act(bias + sum_m w_m xc_{p+m})."""
    b, offs_d, mask_d, bias = _program_channels(bias_ptr, dim, n_dblocks, BLOCK_D, HAS_BIAS)
    in_d = mask_d[:, None]
    x_row = x_ptr + b * stride_x_batch + offs_d[:, None] * stride_x_dim
    init_row = init_ptr + b * stride_init_batch + offs_d[:, None] * stride_init_dim
    p0 = tl.program_id(1) * BLOCK_L
    p = p0 + tl.arange(0, BLOCK_L)[None, :]
    out = bias + tl.zeros([BLOCK_D, BLOCK_L], dtype=tl.float32)
    for m in tl.static_range(WIDTH):
        out += (_tap(w_ptr, offs_d, mask_d, stride_w_dim, stride_w_width, m, WIDTH)
                * _xc(x_row, init_row, in_d, p + m, L, stride_x_len, stride_init_len, WIDTH,
                      p0 < WIDTH - 1))
    if SILU:
        out = out * tl.sigmoid(out)
    tl.store(out_ptr + b * stride_out_batch + offs_d[:, None] * stride_out_dim + p * stride_out_len,
             out.to(out_ptr.dtype.element_ty), mask=in_d & (p < L))


@triton.jit
def _pre(k: tl.constexpr, bias, w0, w1, w2, w3, xm3, xm2, xm1, x0, xp1, xp2, xp3):
    """The pre-activation at positions j - k from xc at j - 3 .. j + 3: bias + sum_m w_m xc_{j-k+m}."""
    if k == 0:
        pre = bias + w0 * x0 + w1 * xp1 + w2 * xp2 + w3 * xp3
    elif k == 1:
        pre = bias + w0 * xm1 + w1 * x0 + w2 * xp1 + w3 * xp2
    elif k == 2:
        pre = bias + w0 * xm2 + w1 * xm1 + w2 * x0 + w3 * xp1
    else:
        pre = bias + w0 * xm3 + w1 * xm2 + w2 * xm1 + w3 * x0
    return pre


@triton.jit
def _conv_bwd_kernel(
        # inputs (bias, dfinal: None unless their HAS_ flag)
        x_ptr, init_ptr, w_ptr, bias_ptr, dout_ptr, dfinal_ptr,
        # outputs: dx, dinit (in init's layout); per (batch row, program along L) partial sums of
        # dw (row, width, dim) and dbias (row, dim)
        dx_ptr, dinit_ptr, dw_ptr, dbias_ptr,
        # sizes
        dim, L, n_dblocks, tiles_per_program,
        # strides
        stride_x_batch, stride_x_dim, stride_x_len,
        stride_init_batch, stride_init_dim, stride_init_len,
        stride_w_dim, stride_w_width,
        stride_dout_batch, stride_dout_dim, stride_dout_len,
        stride_dx_batch, stride_dx_dim, stride_dx_len,
        # tile and options
        WIDTH: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_L: tl.constexpr,
        HAS_BIAS: tl.constexpr, SILU: tl.constexpr, HAS_DFINAL: tl.constexpr):
    """dx and dinit over tiles_per_program (BLOCK_D, BLOCK_L) tiles of xc positions j, and the
    partial sums of dw and dbias over them.

    dxc_j = sum_k w_k dpre_{j-k}, dpre_p = dout_p act'(pre_p). The pre-activations at j - k for the
    WIDTH values of k come from the xc tiles at j - (WIDTH-1) .. j + (WIDTH-1), each loaded once, and
    dw_m = sum_j dpre_j xc_{j+m} from the same tiles (k = 0 visits each output position once).
    """
    b, offs_d, mask_d, bias = _program_channels(bias_ptr, dim, n_dblocks, BLOCK_D, HAS_BIAS)
    in_d = mask_d[:, None]
    x_row = x_ptr + b * stride_x_batch + offs_d[:, None] * stride_x_dim
    init_row = init_ptr + b * stride_init_batch + offs_d[:, None] * stride_init_dim
    dout_row = dout_ptr + b * stride_dout_batch + offs_d[:, None] * stride_dout_dim
    dx_row = dx_ptr + b * stride_dx_batch + offs_d[:, None] * stride_dx_dim
    state_row = b * stride_init_batch + offs_d[:, None] * stride_init_dim   # dinit and dfinal
    w0 = _tap(w_ptr, offs_d, mask_d, stride_w_dim, stride_w_width, 0, WIDTH)
    w1 = _tap(w_ptr, offs_d, mask_d, stride_w_dim, stride_w_width, 1, WIDTH)
    w2 = _tap(w_ptr, offs_d, mask_d, stride_w_dim, stride_w_width, 2, WIDTH)
    w3 = _tap(w_ptr, offs_d, mask_d, stride_w_dim, stride_w_width, 3, WIDTH)
    # the weights' and bias' gradients, summed over L once at the end (a sum along L per tile
    # would cross threads every tile)
    dw0 = tl.zeros([BLOCK_D, BLOCK_L], dtype=tl.float32)
    dw1 = tl.zeros([BLOCK_D, BLOCK_L], dtype=tl.float32)
    dw2 = tl.zeros([BLOCK_D, BLOCK_L], dtype=tl.float32)
    dw3 = tl.zeros([BLOCK_D, BLOCK_L], dtype=tl.float32)
    dbias = tl.zeros([BLOCK_D, BLOCK_L], dtype=tl.float32)
    for t in range(tiles_per_program):
        j0 = (tl.program_id(1) * tiles_per_program + t) * BLOCK_L
        j = j0 + tl.arange(0, BLOCK_L)[None, :]
        near = j0 < 2 * (WIDTH - 1)
        xm3 = _shifted(x_row, init_row, in_d, j, -3, L, stride_x_len, stride_init_len, WIDTH, near)
        xm2 = _shifted(x_row, init_row, in_d, j, -2, L, stride_x_len, stride_init_len, WIDTH, near)
        xm1 = _shifted(x_row, init_row, in_d, j, -1, L, stride_x_len, stride_init_len, WIDTH, near)
        x0 = _shifted(x_row, init_row, in_d, j, 0, L, stride_x_len, stride_init_len, WIDTH, near)
        xp1 = _shifted(x_row, init_row, in_d, j, 1, L, stride_x_len, stride_init_len, WIDTH, near)
        xp2 = _shifted(x_row, init_row, in_d, j, 2, L, stride_x_len, stride_init_len, WIDTH, near)
        xp3 = _shifted(x_row, init_row, in_d, j, 3, L, stride_x_len, stride_init_len, WIDTH, near)
        dxc = tl.zeros([BLOCK_D, BLOCK_L], dtype=tl.float32)
        for k in tl.static_range(WIDTH):
            p = j - k
            dp = tl.load(dout_row + p * stride_dout_len, mask=in_d & (p >= 0) & (p < L),
                         other=0.0).to(tl.float32)
            if SILU:
                pre = _pre(k, bias, w0, w1, w2, w3, xm3, xm2, xm1, x0, xp1, xp2, xp3)
                s = tl.sigmoid(pre)
                dp = dp * s * (1.0 + pre * (1.0 - s))
            if k == 0:   # each output position once: the weights' and bias' gradients
                dxc += w0 * dp
                dbias += dp
                dw0 += dp * x0
                dw1 += dp * xp1
                dw2 += dp * xp2
                dw3 += dp * xp3
            elif k == 1:
                dxc += w1 * dp
            elif k == 2:
                dxc += w2 * dp
            else:
                dxc += w3 * dp
        if HAS_DFINAL:  # the final states are xc[L : L + WIDTH - 1]
            dxc += tl.load(dfinal_ptr + state_row + (j - L) * stride_init_len,
                           mask=in_d & (j >= L) & (j < L + WIDTH - 1), other=0.0)
        tl.store(dx_row + (j - (WIDTH - 1)) * stride_dx_len, dxc.to(dx_ptr.dtype.element_ty),
                 mask=in_d & (j >= WIDTH - 1) & (j < L + WIDTH - 1))
        if near:
            tl.store(dinit_ptr + state_row + j * stride_init_len, dxc, mask=in_d & (j < WIDTH - 1))
    row = b * tl.num_programs(1) + tl.program_id(1)   # (row, m, channel): contiguous along channels
    tl.store(dbias_ptr + row * dim + offs_d, tl.sum(dbias, axis=1), mask=mask_d)
    tl.store(dw_ptr + row * WIDTH * dim + offs_d, tl.sum(dw0, axis=1), mask=mask_d)
    if WIDTH > 1:
        tl.store(dw_ptr + (row * WIDTH + 1) * dim + offs_d, tl.sum(dw1, axis=1), mask=mask_d)
    if WIDTH > 2:
        tl.store(dw_ptr + (row * WIDTH + 2) * dim + offs_d, tl.sum(dw2, axis=1), mask=mask_d)
    if WIDTH > 3:
        tl.store(dw_ptr + (row * WIDTH + 3) * dim + offs_d, tl.sum(dw3, axis=1), mask=mask_d)


# Tiles: BLOCK_D channels x BLOCK_L positions, num_warps; the backward's programs each walk
# tiles_per_program tiles along L, as many as keep PROGRAMS_PER_SM programs on each multiprocessor.
FWD_TILE = (64, 32, 4)
BWD_TILE = (32, 32, 8)
PROGRAMS_PER_SM = 8


def _programs_wanted(device) -> int:
    """How many programs fill ``device`` (a fixed few where it is not a GPU: the interpreter)."""
    if device.type != "cuda":
        return 4
    return PROGRAMS_PER_SM * torch.cuda.get_device_properties(device).multi_processor_count


def _like(x, t):
    """The (batch, dim, k) tensor ``t`` laid out as ``x``: channels-last where x is (a copy only
    where t is not), so that the kernels' loads of x, the states and the weights (k = width, passed
    as a batch of one) share one register layout instead of converting through shared memory."""
    if is_channels_last(x):
        return t.transpose(1, 2).contiguous().transpose(1, 2)
    return t.contiguous()


def _final_states(x, init, width):
    """The last width-1 columns of concat(init, x)."""
    keep = width - 1
    if keep == 0:
        return x.new_zeros(x.shape[0], x.shape[1], 0)
    if x.shape[-1] >= keep:
        return x[..., x.shape[-1] - keep:].contiguous()
    return torch.cat([init[..., x.shape[-1]:].to(x.dtype), x], dim=-1)


class _CausalConv1d(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x, weight, bias, initial_states, silu):
        batch, dim, L = x.shape
        width = weight.shape[-1]
        # at least one column, so that no kernel argument is an empty (null) buffer
        init = _like(x, initial_states if initial_states is not None and width > 1
                     else x.new_zeros(batch, dim, max(width - 1, 1)))
        out = empty_like_layout(x)   # channels-last in, channels-last out
        w = _like(x, weight.unsqueeze(0))[0]
        block_d, block_l, warps = FWD_TILE
        n_dblocks = triton.cdiv(dim, block_d)
        _conv_fwd_kernel[(batch * n_dblocks, triton.cdiv(L, block_l))](
            x, init, w, bias, out, dim, L, n_dblocks, *x.stride(), *init.stride(),
            *w.stride(), *out.stride(), WIDTH=width, BLOCK_D=block_d, BLOCK_L=block_l,
            HAS_BIAS=bias is not None, SILU=silu, num_warps=warps)
        ctx.save_for_backward(x, w, bias, init)
        ctx.silu, ctx.has_init = silu, initial_states is not None
        return out, _final_states(x, init, width)

    @staticmethod
    def backward(ctx, dout, dfinal):
        x, w, bias, init = ctx.saved_tensors
        batch, dim, L = x.shape
        width = w.shape[-1]
        dout = dout if dout is not None else torch.zeros_like(x)
        dfinal = _like(x, dfinal.float()) if dfinal is not None and width > 1 else None
        block_d, block_l, warps = BWD_TILE
        n_dblocks = triton.cdiv(dim, block_d)
        n_tiles = triton.cdiv(L + width - 1, block_l)
        splits = min(n_tiles, triton.cdiv(_programs_wanted(x.device), batch * n_dblocks))
        per_program = triton.cdiv(n_tiles, splits)
        splits = triton.cdiv(n_tiles, per_program)
        f32 = dict(device=x.device, dtype=torch.float32)
        dx = empty_like_layout(x)
        dinit = torch.empty_like(init, dtype=torch.float32)
        dw = torch.empty(batch * splits, width, dim, **f32)
        dbias = torch.empty(batch * splits, dim, **f32)
        _conv_bwd_kernel[(batch * n_dblocks, splits)](
            x, init, w, bias, dout, dfinal, dx, dinit, dw, dbias, dim, L, n_dblocks, per_program,
            *x.stride(), *init.stride(), *w.stride(), *dout.stride(), *dx.stride(),
            WIDTH=width, BLOCK_D=block_d, BLOCK_L=block_l, HAS_BIAS=bias is not None,
            SILU=ctx.silu, HAS_DFINAL=dfinal is not None, num_warps=warps)
        return (dx, dw.sum(0).t().to(w.dtype),
                dbias.sum(0).to(bias.dtype) if bias is not None else None,
                dinit[..., :width - 1].to(init.dtype) if ctx.has_init else None, None)


def causal_conv1d_triton(x, weight, bias=None, *, initial_states=None, return_final_states=False,
                         activation=None):
    """Triton causal conv1d with causal_conv1d's arguments plus carried, differentiable state."""
    if activation not in (None, "silu", "swish"):
        raise ValueError(f"activation must be None, 'silu' or 'swish', not {activation!r}")
    if weight.dim() != 2 or weight.shape[0] != x.shape[1]:
        raise ValueError(f"weight must be (dim, width), got {tuple(weight.shape)}")
    width = weight.shape[-1]
    if not 1 <= width <= MAX_WIDTH:
        raise ValueError(f"the Triton conv takes widths 1 to {MAX_WIDTH}, not {width}")
    if initial_states is not None and initial_states.shape != (x.shape[0], x.shape[1], width - 1):
        raise ValueError("initial_states must be (batch, dim, width-1), "
                         f"got {tuple(initial_states.shape)}")
    if x.shape[-1] == 0:
        from .reference import causal_conv1d_ref
        return causal_conv1d_ref(x, weight, bias, initial_states=initial_states,
                                 return_final_states=return_final_states, activation=activation)
    out, final = _CausalConv1d.apply(x, weight, bias, initial_states, activation is not None)
    return (out, final) if return_final_states else out
