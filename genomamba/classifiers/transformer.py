"""The Transformer baseline (FlashAttention via ``scaled_dot_product_attention``), same tokens, same
harness and about the Mamba default's parameter count (about 17 k at d_model 32, 2 layers).

It cannot carry state: a record is scored by consecutive windows of ``max_context`` bases (default:
the training window) from its start, and the summary is the length-weighted mean over the windows,
so nothing links bases in different windows. Params as in ``genomamba.classifiers.neural``
(``pretrain_steps`` is not available: the encoder is bidirectional).
"""

from .neural import NeuralClassifier


class TransformerClassifier(NeuralClassifier):
    kind = "transformer"
    arch = "transformer"


CLASSIFIER = TransformerClassifier
