import sys, torch, triton
sys.path.append(__file__.rsplit('/', 1)[0])
import stepk as K
torch.manual_seed(0)
def run(dim, L, n_chunks, abl, unroll, summary, bd=32, warps=1, rep=40):
    N = 16; dev = "cuda"
    u = torch.randn(1, dim, L, device=dev).bfloat16(); dl = (0.5 * torch.randn(1, dim, L, device=dev) - 1).bfloat16()
    A = -(torch.rand(dim, N, device=dev) * 8 + 0.5); Bt = torch.randn(1, 1, L, N, device=dev); Ct = torch.randn(1, 1, L, N, device=dev)
    D = torch.randn(dim, device=dev); bias = 0.1 * torch.randn(dim, device=dev)
    y = torch.empty_like(u); last = torch.empty(1, dim, N, device=dev)
    sumH = torch.randn(1, n_chunks, dim, N, device=dev) * 0.1; sumS = torch.rand(1, n_chunks, dim, device=dev)
    chunk_len = triton.cdiv(triton.cdiv(L, n_chunks), unroll) * unroll
    nd = dim // bd
    grid = (nd, n_chunks - 1 if summary else n_chunks)
    f = lambda: K._ss_fwd_step_kernel[grid](u, dl, A, Bt, Ct, D, y, bias, last, y, last, last, sumH, sumS,
        dim, L, N, nd, dim, chunk_len, n_chunks, 128, 1, *u.stride(), *dl.stride(), 0, 0, 0, *y.stride(),
        BLOCK_D=bd, BLOCK_N=16, UNROLL=unroll, SUMMARY=summary, HAS_D=True, HAS_Z=False, HAS_BIAS=True,
        SOFTPLUS=True, HAS_H0=False, STORE_CKPT=False, ABL=abl, num_warps=warps)
    return triton.testing.do_bench(f, warmup=10, rep=rep, return_mode="median")
names = {0: "baseline", 1: "no B/C loads", 2: "no exp2", 3: "no u/delta loads", 4: "no y store"}
for dim, nc in [(256, 256), (512, 256), (512, 128)]:
    for unroll in (4, 8):
        row = [f"{run(dim, 2**20, nc, 0, unroll, True):.3f}"]
        for abl in range(5):
            row.append(f"{run(dim, 2**20, nc, abl, unroll, False):.3f}")
        print(f"1x{dim}x2^20 chunks {nc} unroll {unroll} | summary {row[0]} | main: " + " | ".join(f"{names[a]} {row[a+1]}" for a in range(5)), flush=True)
