"""The Mamba species classifier: streams records of any length in constant memory.

Params and the confidence/threshold are documented in ``genomamba.classifiers.neural``.
"""

from .neural import NeuralClassifier


class MambaClassifier(NeuralClassifier):
    kind = "mamba"
    arch = "mamba"


CLASSIFIER = MambaClassifier
