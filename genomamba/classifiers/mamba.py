"""The Mamba species classifier: streams records of any length in constant memory.

Params and the confidence/threshold are documented in ``genomamba.classifiers.neural``.
"""

from ..train import TrainConfig
from . import neural
from .neural import NeuralClassifier


class MambaClassifier(NeuralClassifier):
    kind = "mamba"
    arch = "mamba"


def resolve_params(params: dict, classifier: type[NeuralClassifier] = MambaClassifier) -> dict:
    """The params of ``genomamba.classifiers.neural``, checked as ``classifier.fit`` will use them:
    they must make a model of its arch and a training configuration (also for the Transformer)."""
    params = neural.resolve_params(params)
    classifier.model_config(params, n_classes=2)
    TrainConfig(**{key: params[key] for key in neural.TRAIN_KEYS})
    return params


CLASSIFIER = MambaClassifier
