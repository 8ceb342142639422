"""The helpers of `genomamba bench kernels` that `benchmarks/kernels_ab.py` shares: launch-plan
parsing, the random scan inputs, the channels-last layout, and the command's options (the timings
themselves need a CUDA GPU)."""

import pytest
import torch

from genomamba.bench.kernels import (_parse_args, channels_last, channels_last_inputs, grad_leaves,
                                     parse_plans, scan_calls, scan_inputs)
from genomamba.kernels.reference import selective_scan_ref


def test_parse_plans_reads_names_integers_and_strings():
    assert parse_plans("default") == [("default", {})]
    assert parse_plans("step:fwd_kernel=step, step_unroll=8;tiled:fwd_kernel=tiled;plain:") == [
        ("step", {"fwd_kernel": "step", "step_unroll": 8}),
        ("tiled", {"fwd_kernel": "tiled"}),
        ("plain", {})]


@pytest.mark.parametrize("spec, message", [
    ("step", "expected NAME:key=val"),
    (":fwd_kernel=step", "expected NAME:key=val"),
    ("a:fwd_kernel", "'fwd_kernel' is not key=value"),
    ("a:=3", "is not key=value"),
    (" ; ", "no launch plan"),
])
def test_parse_plans_rejects_malformed_specs(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_plans(spec)


def test_scan_inputs_shapes_dtypes_and_seed():
    def draw(seed, with_z):
        return scan_inputs(2, 3, 5, 4, torch.bfloat16, with_z, torch.Generator().manual_seed(seed),
                           device="cpu")
    x = draw(7, True)
    assert x["u"].shape == x["delta"].shape == x["z"].shape == (2, 3, 5)
    assert x["B"].shape == x["C"].shape == (2, 4, 5)
    assert x["A"].shape == (3, 4) and x["D"].shape == x["delta_bias"].shape == (3,)
    assert {x[k].dtype for k in ("u", "delta", "B", "C", "z")} == {torch.bfloat16}
    assert {x[k].dtype for k in ("A", "D", "delta_bias")} == {torch.float32}
    assert bool((x["A"] < 0).all())  # a decaying state, as the model's -exp(A_log)
    assert all(torch.equal(x[k], v) for k, v in draw(7, True).items())
    assert not torch.equal(x["u"], draw(8, True)["u"])
    assert draw(7, False)["z"] is None


def test_grad_leaves_are_detached_copies_that_take_gradients():
    x = scan_inputs(1, 2, 3, 2, torch.float32, False, torch.Generator().manual_seed(0), device="cpu")
    leaves, wrt = grad_leaves(x)
    assert leaves["z"] is None and len(wrt) == len(x) - 1
    assert all(t.requires_grad and t.is_leaf for t in wrt)
    assert all(torch.equal(leaves[k], v) for k, v in x.items() if v is not None)
    assert not any(v.requires_grad for v in x.values() if v is not None)


def test_channels_last_keeps_values_with_stride_one_along_channels():
    x = torch.randn(2, 5, 7, generator=torch.Generator().manual_seed(3))
    y = channels_last(x)
    assert y.shape == x.shape and y.stride(1) == 1 and y.stride(2) == 5
    assert torch.equal(y, x)


@pytest.mark.parametrize("with_z", [True, False])
def test_channels_last_inputs_lay_out_u_delta_and_z_only(with_z):
    x = scan_inputs(2, 3, 5, 4, torch.float32, with_z, torch.Generator().manual_seed(1), device="cpu")
    y = channels_last_inputs(x)
    assert y.keys() == x.keys()
    for k, v in x.items():
        if v is None:
            assert y[k] is None
            continue
        assert torch.equal(y[k], v)
        if k in ("u", "delta", "z"):
            assert y[k].stride(1) == 1 and x[k].stride(2) == 1   # a new layout, the input untouched
        else:
            assert y[k] is v


def test_bench_kernels_takes_gpu_time_and_channels_last():
    args = _parse_args(["--gpu-time", "--channels-last", "--configs", "a:bwd_block_k=8"])
    assert args.gpu_time and args.channels_last
    assert args.plans == [("a", {"bwd_block_k": 8})]
    plain = _parse_args([])
    assert not plain.gpu_time and not plain.channels_last


def test_scan_calls_run_the_forward_without_gradients_and_the_backward_on_a_kept_graph():
    x = scan_inputs(1, 3, 6, 2, torch.float32, True, torch.Generator().manual_seed(2), device="cpu")
    forward, backward = scan_calls(selective_scan_ref, x)
    y = forward()
    assert not y.requires_grad
    assert torch.equal(y, selective_scan_ref(**x, delta_softplus=True))
    grads = backward()
    assert len(grads) == sum(v is not None for v in x.values())
    assert [g.shape for g in grads] == [v.shape for v in x.values() if v is not None]
    assert all(torch.equal(a, b) for a, b in zip(grads, backward()))   # the graph was kept
    assert not any(v.requires_grad for v in x.values() if v is not None)
