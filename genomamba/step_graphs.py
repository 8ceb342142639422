"""CUDA graphs of the training step: the forward, loss and backward of a step's backpropagation
segments, captured once per shape and replayed.

Run eagerly, a training step of the Mamba model is a few hundred kernels, many of them small (the
norms, the conv, the partial sums of the parameters' gradients), each launched by Python, autograd
and Triton's launcher; between small kernels the GPU waits for the host. A replayed CUDA graph
launches them all at once.

A shape's first step runs eagerly (it compiles the Triton kernels and sets up cuBLAS and autograd).
Its second step warms up once more on a side stream, as capture requires, then captures the step
and replays it; later steps copy the batch into the graph's input tensors and replay. The gradients
accumulate into the parameters' ``.grad`` tensors, which therefore stay where the graph writes: the
trainer zeroes them in place between steps instead of dropping them. The optimizer step stays
outside the graph. A replay runs the kernels of the eager step on the same inputs, so a step gives
what it gives eagerly. One graph is kept: a new shape (the windows of a sequence-length warm-up, a
new stage) replaces it. A capture that fails leaves the run eager, with a message.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


class StepGraphs:
    """Replays ``body(tokens, labels) -> loss`` (a 0-d tensor, its backward done) from a CUDA graph
    per key (stage and shapes), see the module's docstring."""

    def __init__(self, parameters, log=print):
        self.parameters = list(parameters)
        self.log = log
        self.enabled = True
        self._seen = set()       # keys whose eager first step has run
        self._key = self._graph = self._inputs = self._loss = None

    def run(self, key, body: Callable, tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The step's loss. Through the graph, it lives in the graph's memory until the next replay:
        read it before the next step."""
        if not self.enabled or key not in self._seen:
            self._seen.add(key)
            return body(tokens, labels)
        if key != self._key and not self._capture(key, body, tokens, labels):
            return body(tokens, labels)
        static_tokens, static_labels = self._inputs
        static_tokens.copy_(tokens)
        static_labels.copy_(labels)
        self._graph.replay()
        return self._loss

    def _zero_grads(self):
        grads = [p.grad for p in self.parameters if p.grad is not None]
        if grads:
            torch._foreach_zero_(grads)

    def _capture(self, key, body, tokens, labels) -> bool:
        """Capture ``body`` for ``key``, the gradients zero after it; False, with the graphs turned
        off, where capture fails."""
        self._key = self._graph = self._inputs = self._loss = None   # the last shape's memory goes
        inputs = (tokens.clone(), labels.clone())
        try:
            graph, loss = capture(lambda: body(*inputs))
        except RuntimeError as error:
            self.enabled = False
            self.log(f"CUDA graph capture failed ({str(error).splitlines()[0]}); "
                     "training goes on without graphs")
            return False
        finally:
            self._zero_grads()   # the warm-up call's gradients
        self._key, self._graph, self._inputs, self._loss = key, graph, inputs, loss
        return True


def capture(fn: Callable):
    """(graph, what ``fn()`` returned in the capture): ``fn`` called once on a side stream, as
    capture requires (the lazy set-up of cuBLAS and autograd and the kernels' compiles stay out of
    the graph), then captured. A replay runs the captured kernels again, on the same memory."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = fn()
    return graph, out
