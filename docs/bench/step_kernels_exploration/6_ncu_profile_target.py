import sys, os
sys.path.insert(0, os.getcwd())
import torch
from genomamba.bench.kernels import _scan_inputs
from kernels import selective_scan as ss
gen = torch.Generator(device='cuda').manual_seed(3)
inputs = _scan_inputs(1, 512, 2**18, 16, torch.bfloat16, False, gen)
ss.set_config(fwd_kernel='step')
with torch.no_grad():
    for _ in range(2):
        ss.selective_scan_triton(**inputs, delta_softplus=True)
torch.cuda.synchronize()
