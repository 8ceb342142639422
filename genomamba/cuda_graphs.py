"""CUDA graphs of the Mamba model's repeated work: the training step, and the streamed chunks of
inference. Each is captured once per shape and replayed.

Run eagerly, a training step is a few hundred kernels and a streamed chunk about a hundred, many of
them small (the norms, the conv, the partial sums of the parameters' gradients), each launched by
Python, autograd and Triton's launcher; between small kernels the GPU waits for the host. A
replayed CUDA graph launches them all at once, and runs the same kernels on the same inputs as the
eager call, so it gives the same results.

A shape's first call runs eagerly (it compiles the Triton kernels and sets up cuBLAS and autograd).
Its second call runs once more on a side stream, as capture requires, then is captured and
replayed; later calls copy their inputs into the graph's input tensors and replay. One graph is
kept per use: a new shape replaces it. What a replay returns lives in the graph's memory until the
next replay. A capture that fails turns the graphs of that use off, with a message: the calls go
on eagerly.

* ``StepGraphs`` (``Trainer``, Mamba on CUDA, one process): the forward, loss and backward of all
  of a step's backpropagation segments (a new graph for each window length of a sequence-length
  warm-up, and for each training stage). The gradients accumulate into the parameters' ``.grad``
  tensors, which therefore stay where the graph writes: the trainer zeroes them in place between
  steps instead of dropping them. The optimizer step stays outside the graph.
* ``ChunkGraphs`` (``SpeciesModel.replay_chunks``, which the classifiers call on CUDA): the
  backbone's forward of one streaming chunk length with the carried states in and out, without
  gradients; the chunks of any other length run eagerly.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import torch


def capture(fn: Callable):
    """(graph, what ``fn()`` returned in the capture): ``fn`` called once on a side stream, as
    capture requires (the lazy set-up of cuBLAS and autograd and the kernels' compiles stay out of
    the graph), then captured. A replay runs the captured kernels again, on the same memory."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        fn()
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    torch.cuda.empty_cache()   # the eager calls' cached memory, for the graph's own pool
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = fn()
    return graph, out


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


class _Replays:
    """The keys seen, the graph kept, its input tensors and what its capture returned."""

    def __init__(self, log):
        self.log = log
        self.enabled = True
        self.seen = set()
        self.key = self.graph = self.inputs = self.outputs = None

    def first_call(self, key) -> bool:
        """Whether ``key`` is new (its call runs eagerly)."""
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    def drop(self):
        """Let the graph and its memory go."""
        self.key = self.graph = self.inputs = self.outputs = None

    def capture(self, key, fn, inputs) -> bool:
        """Capture ``fn(*inputs)`` as ``key``'s graph in place of the one kept; False, with the
        graphs turned off and a message, where capture fails."""
        self.drop()
        try:
            graph, outputs = capture(lambda: fn(*inputs))
        except RuntimeError as error:
            self.enabled = False
            self.log(f"CUDA graph capture failed ({str(error).splitlines()[0]}); "
                     "going on without graphs")
            return False
        self.key, self.graph, self.inputs, self.outputs = key, graph, inputs, outputs
        return True


class StepGraphs:
    """Replays ``body(tokens, labels) -> loss`` (a 0-d tensor, its backward done) from a CUDA graph
    per key (stage and shapes); see the module's docstring."""

    def __init__(self, parameters, log=print):
        self.parameters = list(parameters)
        self.replays = _Replays(log)

    def run(self, key, body: Callable, tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The step's loss (in the graph's memory: read it before the next step)."""
        replays = self.replays
        if not replays.enabled or replays.first_call(key):
            return body(tokens, labels)
        if key != replays.key and not self._capture(key, body, tokens, labels):
            return body(tokens, labels)
        static_tokens, static_labels = replays.inputs
        static_tokens.copy_(tokens)
        static_labels.copy_(labels)
        replays.graph.replay()
        return replays.outputs

    def _zero_grads(self):
        grads = [p.grad for p in self.parameters if p.grad is not None]
        if grads:
            torch._foreach_zero_(grads)

    def _capture(self, key, body, tokens, labels) -> bool:
        """``_Replays.capture``, the gradients zero after it (the warm-up call added to them)."""
        try:
            return self.replays.capture(key, body, (tokens.clone(), labels.clone()))
        finally:
            self._zero_grads()


class ChunkGraphs:
    """Replays the backbone's streaming forward of ``chunk``-base pieces, ``forward(tokens, states)
    -> (hidden, states)`` with the carried states (a list of tuples of tensors) in and out, from a
    CUDA graph; see the module's docstring. Other lengths, a record's first piece (no state yet)
    and calls with gradients run eagerly."""

    def __init__(self, chunk: int, log=_to_stderr):
        self.chunk = chunk
        self.replays = _Replays(log)

    def applies(self, tokens: torch.Tensor, states) -> bool:
        return (tokens.is_cuda and tokens.shape[1] == self.chunk and states is not None
                and not torch.is_grad_enabled())

    def run(self, forward: Callable, tokens: torch.Tensor, states: list, weights):
        """``forward``'s result; ``weights``: the tensors it reads besides its arguments (a graph
        reads them where they were at its capture, so that moved weights make a new graph)."""
        replays = self.replays
        autocast = torch.is_autocast_enabled("cuda") and torch.get_autocast_dtype("cuda")
        key = (tuple(tokens.shape), autocast,
               tuple((s.shape, s.dtype) for layer in states for s in layer),
               tuple(w.data_ptr() for w in weights))
        if not replays.enabled or replays.first_call(key):
            return forward(tokens, states)
        if key != replays.key and not replays.capture(
                key, forward, (tokens.clone(), [tuple(s.clone() for s in layer) for layer in states])):
            return forward(tokens, states)
        static_tokens, static_states = replays.inputs
        static_tokens.copy_(tokens)
        torch._foreach_copy_([s for layer in static_states for s in layer],
                             [s for layer in states for s in layer])
        replays.graph.replay()
        return replays.outputs
