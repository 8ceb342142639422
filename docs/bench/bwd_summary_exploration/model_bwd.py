"""Model training throughput (d_model 128, 4 layers, batch 8 x 16384, z gate) with each backward."""
import sys, os; sys.path.insert(0, os.getcwd())
from kernels import selective_scan as ss
from genomamba.bench import model
for bwd in sys.argv[1:]:
    ss.set_config(**ss.DEFAULT_CONFIG.__dict__)
    ss.set_config(bwd_kernel=bwd)
    print("bwd_kernel", bwd, flush=True)
    model.main(["--device", "cuda", "--skip", "stream", "transformer", "--reference-length", "256"])
