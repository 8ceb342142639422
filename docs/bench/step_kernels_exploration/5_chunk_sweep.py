import sys, os
sys.path.insert(0, os.getcwd())
import torch, triton
from genomamba.bench.kernels import _scan_inputs
from kernels import selective_scan as ss
def ms(fn):
    return triton.testing.do_bench(fn, warmup=10, rep=100, return_mode="median")
gen = torch.Generator(device='cuda').manual_seed(3)
shapes = [(1,512,2**16),(1,512,2**18),(1,512,2**20),(8,256,16384)]
ins = [_scan_inputs(*s, 16, torch.bfloat16, False, gen) for s in shapes]
print('config | ' + ' | '.join('x'.join(map(str, s)) for s in shapes))
cfgs = [dict()] + [dict(step_programs_per_sm=p, step_max_chunks=m) for p, m in ((32, 512), (128, 512), (128, 1024), (256, 1024), (64, 256), (64, 1024))] + [dict(step_unroll=16), dict(step_unroll=4)]
for rnd in range(2):
    for cfg in cfgs:
        ss.set_config(**ss.DEFAULT_CONFIG.__dict__)
        ss.set_config(fwd_kernel='step', **cfg)
        row = []
        for inputs in ins:
            def f():
                with torch.no_grad():
                    return ss.selective_scan_triton(**inputs, delta_softplus=True)
            row.append(f'{ms(f):.4f}')
        print(cfg or 'default', '|', ' | '.join(row), flush=True)
