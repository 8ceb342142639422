"""The Transformer baseline (FlashAttention via ``scaled_dot_product_attention``), same tokens, same
harness and about the Mamba default's parameter count (about 17 k at d_model 32, 2 layers).

It cannot carry state: a record is scored by consecutive windows of ``max_context`` bases (default:
the training window) from its start, and the summary is the length-weighted mean over the windows,
so nothing links bases in different windows. Params as in ``genomamba.classifiers.neural_params``
(``pretrain_steps`` is not available: the encoder is bidirectional).
"""

from . import neural_params
from .neural import NeuralClassifier


class TransformerClassifier(NeuralClassifier):
    kind = "transformer"
    arch = "transformer"


def resolve_params(params: dict) -> dict:
    """The params of ``genomamba.classifiers.neural_params``, checked as ``fit`` will use them."""
    return neural_params.resolve_params(params, TransformerClassifier.arch)


CLASSIFIER = TransformerClassifier
