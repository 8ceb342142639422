import sys, torch, triton
sys.path.append(__file__.rsplit('/', 1)[0])
import stepk as K
torch.manual_seed(0)
def run(batch, dim, L, n_chunks, unroll, stages, summary, bd=32, warps=1, rep=40):
    N = 16; dev = "cuda"
    u = torch.randn(batch, dim, L, device=dev).bfloat16(); dl = (0.5 * torch.randn(batch, dim, L, device=dev) - 1).bfloat16()
    A = -(torch.rand(dim, N, device=dev) * 8 + 0.5); Bt = torch.randn(batch, 1, L, N, device=dev); Ct = torch.randn(batch, 1, L, N, device=dev)
    D = torch.randn(dim, device=dev); bias = 0.1 * torch.randn(dim, device=dev)
    y = torch.empty_like(u); last = torch.empty(batch, dim, N, device=dev)
    sumH = torch.randn(batch, n_chunks, dim, N, device=dev) * 0.1; sumS = torch.rand(batch, n_chunks, dim, device=dev)
    chunk_len = triton.cdiv(triton.cdiv(L, n_chunks), unroll) * unroll
    nd = dim // bd
    grid = (batch * nd, n_chunks - 1 if summary else n_chunks)
    f = lambda: K._ss_fwd_step_kernel[grid](u, dl, A, Bt, Ct, D, y, bias, last, y, last, last, sumH, sumS,
        dim, L, N, nd, dim, chunk_len, n_chunks, 128, 1, *u.stride(), *dl.stride(), 0, 0, 0, *y.stride(),
        BLOCK_D=bd, BLOCK_N=16, UNROLL=unroll, STAGES=stages, SUMMARY=summary, HAS_D=True, HAS_Z=False, HAS_BIAS=True,
        SOFTPLUS=True, HAS_H0=False, STORE_CKPT=False, ABL=0, num_warps=warps)
    return triton.testing.do_bench(f, warmup=10, rep=rep, return_mode="median")
plans = [(8, 1, 32, 1), (8, 2, 32, 1), (8, 3, 32, 1), (4, 2, 32, 1), (4, 3, 32, 1), (16, 1, 32, 1), (8, 1, 64, 2), (8, 2, 64, 2), (8, 1, 16, 1), (8, 1, 64, 1), (8, 2, 16, 1)]
cases = [(1, 512, 2**20, 128), (1, 512, 2**20, 256), (1, 256, 2**20, 256), (8, 256, 16384, 32), (1, 512, 2**16, 64)]
print("unroll stages block_d warps | " + " | ".join(f"{b}x{d}x{L} c{c} sum+main" for b, d, L, c in cases))
for U, S, bd, w in plans:
    row = []
    for b, d, L, c in cases:
        try:
            s = run(b, d, L, c, U, S, True, bd, w); m = run(b, d, L, c, U, S, False, bd, w)
            row.append(f"{s:.3f}+{m:.3f}={s+m:.3f}")
        except Exception as e:
            row.append("FAIL " + type(e).__name__)
    print(U, S, bd, w, "|", " | ".join(row), flush=True)
