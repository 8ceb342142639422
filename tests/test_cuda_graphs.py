"""The bookkeeping of genomamba.cuda_graphs on the CPU, with a stand-in for CUDA graph capture that
records the captured function and replays it into the captured outputs (the GPU tests in
test_train.py and test_model.py run real graphs): which calls run eagerly, which capture, what a
replay reads and returns, and a failed capture."""

import pytest
import torch

from genomamba import cuda_graphs


class FakeGraph:
    """Replays ``fn`` into the tensors its capture returned, in place, as a CUDA graph writes."""

    def __init__(self, fn, outputs):
        self.fn, self.outputs = fn, outputs

    def replay(self):
        for into, value in zip(_flat(self.outputs), _flat(self.fn())):
            into.copy_(value)


def _flat(x):
    if isinstance(x, torch.Tensor):
        return [x]
    return [t for item in x for t in _flat(item)]


@pytest.fixture
def captures(monkeypatch):
    """The functions captured, in order; capture raises where ``captures.fail`` is set."""
    log = []

    def fake_capture(fn):
        if getattr(fake_capture, "fail", False):
            raise RuntimeError("operation not permitted when stream is capturing\nmore")
        log.append(fn)
        outputs = fn()
        return FakeGraph(fn, outputs), outputs
    monkeypatch.setattr(cuda_graphs, "capture", fake_capture)
    fake_capture.log = log
    return fake_capture


def test_chunks_run_eagerly_once_then_replay_with_their_own_inputs(captures):
    eager_calls = []

    def forward(tokens, states):
        eager_calls.append(tokens)
        (state,), = states
        return tokens.float() * 2 + state.sum(), [(state + tokens.float().sum(),)]

    graphs = cuda_graphs.ChunkGraphs(chunk=4)
    weights = [torch.zeros(1)]
    state = [(torch.ones(2),)]
    results = []
    for step in range(4):
        tokens = torch.full((1, 4), step)
        hidden, state = graphs.run(forward, tokens, state, weights)
        results.append(hidden.clone())
        state = [tuple(s.clone() for s in layer) for layer in state]
    assert len(captures.log) == 1                     # captured at the second call, once
    expected_state = torch.ones(2)
    for step, hidden in enumerate(results):           # every call saw its own tokens and state
        assert torch.equal(hidden, torch.full((1, 4), 2.0 * step) + expected_state.sum())
        expected_state = expected_state + 4 * step
    assert torch.equal(state[0][0], expected_state)


def test_a_new_shape_runs_eagerly_first_and_then_replaces_the_graph(captures):
    graphs = cuda_graphs.ChunkGraphs(chunk=4)

    def forward(tokens, states):
        return tokens.float(), [tuple(s + 1 for s in layer) for layer in states]

    weights = [torch.zeros(1)]
    for shape in ((1, 4), (1, 4), (2, 4), (2, 4), (2, 4), (1, 4)):
        graphs.run(forward, torch.zeros(shape, dtype=torch.long), [(torch.zeros(shape[0]),)], weights)
    assert len(captures.log) == 3   # (1, 4) at its 2nd call, (2, 4) at its 2nd, (1, 4) again
    assert graphs.replays.key[0] == (1, 4)
    moved = [torch.zeros(1)]          # other weight tensors: a key of their own
    graphs.run(forward, torch.zeros((1, 4), dtype=torch.long), [(torch.zeros(1),)], moved)
    assert len(captures.log) == 3


def test_a_failed_capture_turns_the_graphs_off_and_goes_on_eagerly(captures):
    messages = []
    graphs = cuda_graphs.ChunkGraphs(chunk=4, log=messages.append)
    captures.fail = True

    def forward(tokens, states):
        return tokens.float() + 1, states

    weights = [torch.zeros(1)]
    for _ in range(3):
        hidden, _ = graphs.run(forward, torch.zeros((1, 4), dtype=torch.long), [(torch.zeros(1),)], weights)
        assert torch.equal(hidden, torch.ones(1, 4))
    assert not graphs.replays.enabled and len(messages) == 1
    assert "capture failed (operation not permitted when stream is capturing)" in messages[0]


def test_the_training_step_replays_with_the_gradients_of_one_step(captures):
    """A step's gradients are those of its own batch whether it ran eagerly, captured or replayed:
    the capture's warm-up call leaves nothing behind."""
    weight = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    graphs = cuda_graphs.StepGraphs([weight], log=lambda message: None)

    def body(tokens, labels):
        loss = (weight * tokens.float()).sum() + labels.float().sum()
        loss.backward()
        return loss.detach()

    for step in range(4):
        if weight.grad is not None:
            weight.grad.zero_()   # as the trainer does between steps: in place
        tokens, labels = torch.tensor([step, 1]), torch.tensor([step])
        loss = graphs.run(("classify", (2,)), body, tokens, labels)
        assert loss.item() == step + 2 + step
        assert torch.equal(weight.grad, tokens.float())
    assert len(captures.log) == 1
