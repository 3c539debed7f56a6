"""Adapting the dense retriever to the user corpus."""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Lazy re-exports: `import training` stays cheap (no torch) and `python -m
# training.run` can set its offline environment before transformers loads.
_EXPORTS = {
    "TrainConfig": "config",
    "defaults_for": "config",
    "TrainingCancelled": "trainer",
    "train": "trainer",
    "interpolate": "interpolation",
    "interpolate_state": "interpolation",
    "load_trained_state": "checkpoints",
    "load_model": "checkpoints",
    "multi_positive_info_nce": "losses",
    "pair_passage_loss": "losses",
    "contrastive_loss": "losses",
    "MoCoQueue": "losses",
    "momentum_update": "losses",
    "CropConfig": "data",
    "CropSampler": "data",
    "build_units": "data",
    "PseudoQuerySet": "selection",
    "AlphaSelection": "selection",
    "build_pseudo_queries": "selection",
    "choose_alpha": "selection",
    "evaluate": "selection",
    "VersionStore": "versions",
    "ModelVersion": "versions",
    "VersionError": "versions",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'training' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
