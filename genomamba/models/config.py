"""Model sizes and options, stored in a checkpoint's config.json."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class ModelConfig:
    arch: str = "mamba"          # "mamba" or "transformer"
    n_classes: int = 2
    d_model: int = 32
    n_layers: int = 2
    # Mamba
    d_state: int = 8
    d_conv: int = 4
    expand: int = 2
    dt_rank: int = 0             # 0: ceil(d_model / 16), as in Mamba
    # Transformer
    n_heads: int = 2
    mlp_ratio: int = 2
    max_context: int = 1024      # the Transformer's window; it sees nothing beyond it
    # Both: score a sequence by its strand and its reverse complement (RC-invariant pooling)
    rc_equivariant: bool = False

    def __post_init__(self):
        if self.arch not in ("mamba", "transformer"):
            raise ConfigError(f"model arch must be mamba or transformer, not {self.arch!r}")
        for name in ("n_classes", "d_model", "n_layers", "d_state", "d_conv", "expand", "n_heads",
                     "mlp_ratio", "max_context"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ConfigError(f"model {name} must be a positive integer, not {getattr(self, name)!r}")
        if self.arch == "transformer" and self.d_model % self.n_heads:
            raise ConfigError(f"d_model {self.d_model} is not a multiple of n_heads {self.n_heads}")

    @property
    def d_inner(self) -> int:
        return self.expand * self.d_model

    @property
    def rank(self) -> int:
        return self.dt_rank or -(-self.d_model // 16)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown model settings: {', '.join(unknown)}")
        return cls(**values)
