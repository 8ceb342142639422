"""The Mamba species classifier: streams records of any length in constant memory.

Params in ``genomamba.classifiers.neural_params``; confidence and threshold in
``genomamba.classifiers.neural`` and ``neural_calibration``.
"""

from . import neural_params
from .neural import NeuralClassifier


class MambaClassifier(NeuralClassifier):
    kind = "mamba"
    arch = "mamba"


def resolve_params(params: dict) -> dict:
    """The params of ``genomamba.classifiers.neural_params``, checked as ``fit`` will use them."""
    return neural_params.resolve_params(params, MambaClassifier.arch)


CLASSIFIER = MambaClassifier
