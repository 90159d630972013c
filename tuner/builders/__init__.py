"""Model builders: one module per family. `get_builder` resolves a campaign's `model` key."""
from __future__ import annotations

import importlib
import inspect
from typing import Callable

import keras
import keras_tuner as kt

from tuner.builders.mlp import MLPHyperModel, build_mlp
from tuner.datasets import DataSpec
from tuner.errors import ConfigError

REGISTRY: dict[str, Callable[[DataSpec], kt.HyperModel]] = {
    "mlp": MLPHyperModel.for_data,
}


class FunctionHyperModel(kt.HyperModel):
    """A user's ``build(hp)`` or ``build(hp, spec)`` function as a KerasTuner HyperModel."""

    def __init__(self, function: Callable[..., keras.Model], spec: DataSpec):
        super().__init__(name=getattr(function, "__name__", "model"))
        self.function = function
        self.spec = spec
        self._takes_spec = len(inspect.signature(function).parameters) >= 2

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        if self._takes_spec:
            return self.function(hp, self.spec)
        return self.function(hp)

    def fit(self, hp, model, *args, **kwargs):
        if "batch_size" in hp:
            kwargs.setdefault("batch_size", hp.get("batch_size"))
        if "epochs" in hp:
            kwargs.setdefault("epochs", hp.get("epochs"))
        return model.fit(*args, **kwargs)


def _import_function(reference: str) -> Callable[..., keras.Model]:
    module_name, _, attribute = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigError(f"model {reference!r}: cannot import module {module_name!r} ({error}); "
                          "is it on PYTHONPATH (run from the folder that contains it)?") from None
    function = getattr(module, attribute, None)
    if not callable(function):
        raise ConfigError(f"model {reference!r}: module {module_name!r} has no callable "
                          f"{attribute!r}.")
    return function


def get_builder(model: str, spec: DataSpec) -> kt.HyperModel:
    """The HyperModel for a registry name (``mlp``) or a user's ``package.module:function``."""
    if model in REGISTRY:
        return REGISTRY[model](spec)
    if ":" in model:
        function = _import_function(model)
        if isinstance(function, type) and issubclass(function, kt.HyperModel):
            return function()
        return FunctionHyperModel(function, spec)
    raise ConfigError(f"unknown model {model!r}; accepted: {', '.join(sorted(REGISTRY))}, or "
                      "'package.module:function' for a builder of your own.")


__all__ = ["MLPHyperModel", "build_mlp", "get_builder", "FunctionHyperModel", "REGISTRY"]
