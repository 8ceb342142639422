"""Data-parallel training on CPU (gloo, 2 processes): 2 ranks x B equal 1 process x 2B, checkpoints
resume across rank counts on the same trajectory, and only rank 0 writes files."""

import os
import queue
import socket
import sys

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from genomamba import checkpoint, distributed
from genomamba.data import ArraySource, LabelledSource, WindowSampler
from genomamba.errors import ConfigError
from genomamba.io import read_records
from genomamba.models import ModelConfig, build_model
from genomamba.train import TrainConfig, Trainer

DATA = os.path.join(os.path.dirname(__file__), "data")
# Pretraining then classification, several backpropagation segments per window, negatives: every path
# whose gradient the ranks must share out exactly.
CONFIG = TrainConfig(steps=4, pretrain_steps=2, batch_size=8, window=96, chunk_size=32, tbptt_chunks=2,
                     lr=1e-2, warmup=2)
SPECIES = 3
MODEL = ModelConfig(d_model=16, n_layers=2, d_state=4, n_classes=SPECIES + 1)   # and "no species"
CHECKPOINT_AT = 3
# The ranks' gradients are the single process's summed in another order (float32): after these six
# Adam steps the weights agree to within about 5e-7; the tolerance leaves room for other CPUs' sums and
# is far below what one step changes.
TOLERANCE = 1e-5


def sources():
    """Real DNA: the E. coli slice, and each V. cholerae record as a class of its own."""
    records = [np.concatenate([tokens for tokens, _ in record.chunks()])
               for name in ("ecoli_DH1_slice.fa", "vcholerae_O395_2rec_slice.fa")
               for record in read_records(os.path.join(DATA, name))]
    return [LabelledSource(f"sample{i}", i, ArraySource([tokens[:5000]])) for i, tokens in enumerate(records[:3])]


def trainer(log=lambda message: None) -> Trainer:
    sampler = WindowSampler(sources(), SPECIES, CONFIG.window, CONFIG.batch_size, seed=7,
                            negatives=0.25)
    return Trainer(build_model(MODEL, seed=1), sampler, CONFIG, "cpu", log)


def weights(t: Trainer) -> dict:
    return {name: value.detach().clone() for name, value in t.model.state_dict().items()}


def train(resume_from=None, save_to=None) -> Trainer:
    """A run to the end, resumed from a checkpoint or saving one at CHECKPOINT_AT."""
    t = trainer()
    if resume_from is not None:
        t.restore(checkpoint.load(resume_from))
        assert t.step == CHECKPOINT_AT
    else:
        t.run(until=CHECKPOINT_AT, log_every=0)
        if save_to is not None:
            t.save(save_to, config={}, species=["a", "b", "c"], metadata={})
    t.run(log_every=0)
    return t


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rank_main(rank, ranks, port, directory, single_checkpoint, results):
    """One rank: a whole run (saving a checkpoint), a run resumed from the single process's
    checkpoint; every file operation under ``directory`` is recorded."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(ranks),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    writes = []

    def audit(event, args):
        if event in ("open", "os.mkdir", "os.rename", "os.replace", "os.remove", "os.rmdir",
                     "shutil.rmtree") and str(args[0]).startswith(directory):
            if event != "open" or any(c in str(args[1] or "") for c in "wax+") or (args[2] or 0) & (
                    os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                writes.append((event, str(args[0])))

    sys.addaudithook(audit)
    with distributed.process_group(torch.device("cpu")):
        assert distributed.active() and distributed.rank() == rank
        whole = train(save_to=os.path.join(directory, "two_ranks"))
        resumed = train(resume_from=single_checkpoint)
        results.put((rank, {k: v.numpy() for k, v in weights(whole).items()},
                     {k: v.numpy() for k, v in weights(resumed).items()},
                     [h["loss"] for h in whole.history], whole.tokens_seen, writes))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The single process's run (checkpoint at step CHECKPOINT_AT) and the two ranks' runs."""
    directory = tmp_path_factory.mktemp("distributed")
    single = train(save_to=directory / "one_rank")
    results = mp.get_context("spawn").Queue()
    processes = mp.start_processes(rank_main, nprocs=2, join=False, start_method="spawn",
                                   args=(2, free_port(), str(directory), str(directory / "one_rank"), results))
    ranks = {}
    while len(ranks) < 2:   # read the results before joining: a rank blocks until its result is read
        try:
            rank, *result = results.get(timeout=1)
            ranks[rank] = result
        except queue.Empty:
            processes.join(timeout=0)   # a rank that failed raises its error here
    while not processes.join():
        pass
    return directory, single, ranks


def assert_close(a: dict, b: dict):
    assert a.keys() == b.keys()
    for name in a:
        difference = np.abs(np.asarray(a[name]) - np.asarray(b[name])).max()
        assert difference <= TOLERANCE, f"{name}: {difference}"


def test_two_ranks_of_batch_b_train_the_model_of_one_process_of_batch_2b(runs):
    _, single, ranks = runs
    reference = {k: v.numpy() for k, v in weights(single).items()}
    moved = max(np.abs(reference[k] - build_model(MODEL, 1).state_dict()[k].numpy()).max() for k in reference)
    assert moved > 100 * TOLERANCE   # the runs trained: agreement is not that of untouched weights
    for rank in (0, 1):
        whole, _, losses, tokens, _ = ranks[rank]
        assert_close(whole, reference)
        assert np.allclose(losses, [h["loss"] for h in single.history], atol=TOLERANCE)
        assert tokens == single.tokens_seen   # the whole step's tokens, not one rank's
    assert all(np.array_equal(ranks[0][0][k], ranks[1][0][k]) for k in ranks[0][0])   # replicas stay equal


def test_a_checkpoint_resumes_with_another_number_of_ranks_on_the_same_trajectory(runs):
    directory, single, ranks = runs
    reference = {k: v.numpy() for k, v in weights(single).items()}
    assert_close(ranks[0][1], reference)                                  # 1 rank's checkpoint, 2 ranks
    at_two = checkpoint.load(directory / "two_ranks")
    at_one = checkpoint.load(directory / "one_rank")
    assert at_two.trainer["step"] == at_one.trainer["step"] == CHECKPOINT_AT
    assert_close(at_two.tensors, at_one.tensors)
    assert_close(*({k: v for k, v in c.optimizer.items() if not k.startswith("rng.")} for c in (at_two, at_one)))
    resumed = train(resume_from=directory / "two_ranks")                  # 2 ranks' checkpoint, 1 rank
    assert_close({k: v.numpy() for k, v in weights(resumed).items()}, reference)


def test_only_rank_0_writes_files(runs):
    directory, _, ranks = runs
    assert ranks[1][4] == []
    assert any(event == "os.rename" and "two_ranks" in path for event, path in ranks[0][4])   # its checkpoint


def test_the_ranks_shares_are_disjoint_and_together_the_single_process_batch():
    sampler = WindowSampler(sources(), 3, 64, 6, seed=3, negatives=0.5)
    for step in range(4):
        tokens, labels = sampler.batch(step)
        shares = [sampler.batch(step, share=(rank, 3)) for rank in range(3)]
        for rank, (part, part_labels) in enumerate(shares):
            assert np.array_equal(part, tokens[rank::3]) and np.array_equal(part_labels, labels[rank::3])
    assert (labels == 3).any()   # a negative was dealt out as well


def test_a_batch_the_ranks_cannot_share_equally_is_refused(monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "1")
    with pytest.raises(ConfigError, match="batch_size 8 is not a multiple of the 3 ranks"):
        trainer()


def test_without_torchrun_nothing_distributed_starts(monkeypatch):
    for name in distributed.ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    with distributed.process_group(torch.device("cpu")):
        assert not torch.distributed.is_initialized()
        assert (distributed.world_size(), distributed.rank(), distributed.is_main()) == (1, 0, True)


def test_the_workflow_starts_one_process_per_gpu_with_torchrun_from_two_gpus():
    from genomamba.workflow import train_launcher

    config = {"models": {m: {"kind": "mamba", "resources": {"gpu": n}} for m, n in (("a", 0), ("b", 1), ("c", 4))}}
    assert train_launcher(config, "a") == train_launcher(config, "b") == ""
    assert train_launcher(config, "c") == "torchrun --standalone --nproc-per-node 4 --no-python "


def test_train_refuses_several_ranks_for_a_kind_that_does_not_train_data_parallel(monkeypatch, tmp_path, capsys):
    from genomamba.cli import main

    for name, value in (("RANK", "0"), ("LOCAL_RANK", "0"), ("WORLD_SIZE", "2"), ("MASTER_ADDR", "127.0.0.1"),
                        ("MASTER_PORT", "1")):
        monkeypatch.setenv(name, value)
    assert main(["train", "--kind", "kmer", "--split", str(tmp_path / "split.tsv"), "-o", str(tmp_path / "m")]) == 2
    assert "only the neural kinds (mamba, transformer) train data-parallel" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
