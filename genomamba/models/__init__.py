"""The neural models: Mamba with carried state, a Transformer baseline, and the species model."""

from .config import ModelConfig
from .precision import autocast_for
from .streaming import SpeciesModel, StreamState, build_model, reverse_complement_tokens

__all__ = ["ModelConfig", "SpeciesModel", "StreamState", "autocast_for", "build_model",
           "reverse_complement_tokens"]
