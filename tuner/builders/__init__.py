"""Model builders: one module per family. `resolve_builder` turns what a user gives (a registry
name, ``"package.module:function"``, a function, a `kt.HyperModel` class or instance) into a
`kt.HyperModel`."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt

from tuner.builders.mlp import MLPHyperModel, build_mlp
from tuner.datasets import DataSpec
from tuner.errors import ConfigError, did_you_mean
from tuner.space import TRAINING_SETTINGS

REGISTRY: dict[str, Callable[[DataSpec], kt.HyperModel]] = {
    "mlp": MLPHyperModel.for_data,
}
DEFAULT_BATCH_SIZE = 32


class FunctionHyperModel(kt.HyperModel):
    """A user's ``build(hp)`` or ``build(hp, spec)`` function as a KerasTuner HyperModel."""

    executor_fits = True

    def __init__(self, function: Callable[..., keras.Model], spec: DataSpec | None):
        super().__init__(name=getattr(function, "__name__", "model"))
        self.function = function
        self.spec = spec
        self._takes_spec = _positional_count(function) >= 2

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        if self._takes_spec:
            return self.function(hp, self.spec)
        return self.function(hp)

    def fit(self, hp: kt.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
        if "batch_size" in hp:
            kwargs.setdefault("batch_size", hp.get("batch_size"))
        if "epochs" in hp:
            kwargs.setdefault("epochs", hp.get("epochs"))
        return model.fit(*args, **kwargs)


def _positional_count(function: Callable[..., Any]) -> int:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature
        return -1
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(p.kind in kinds for p in parameters)


def has_own_fit(hypermodel: kt.HyperModel) -> bool:
    """True when a HyperModel overrides `fit` (the way KerasTuner documents tuning batch size
    or preprocessing): the runner then trains through it."""
    return (
        not getattr(hypermodel, "executor_fits", False)
        and type(hypermodel).fit is not kt.HyperModel.fit
    )


@contextlib.contextmanager
def _importable_from(folders: Sequence[Path]) -> Iterator[None]:
    added = [str(f) for f in folders if str(f) not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for folder in added:
            sys.path.remove(folder)


def _import_reference(reference: str, search_paths: Sequence[Path]) -> Any:
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"model {reference!r} must be 'package.module:function'.")
    folders = [Path.cwd(), *search_paths]
    try:
        with _importable_from(folders):
            module = importlib.import_module(module_name)
    except ImportError as error:
        where = ", ".join(dict.fromkeys(str(f) for f in folders))
        raise ConfigError(
            f"model {reference!r}: cannot import module {module_name!r} ({error}); "
            f"looked in {where} and on PYTHONPATH."
        ) from None
    except Exception as error:  # the user's module raised while importing
        raise ConfigError(
            f"model {reference!r}: importing {module_name!r} raised {type(error).__name__}: {error}"
        ) from None
    if not hasattr(module, attribute):
        public = [n for n in dir(module) if not n.startswith("_")]
        raise ConfigError(
            f"model {reference!r}: module {module_name!r} has no "
            f"{attribute!r}{did_you_mean(attribute, public)}."
        )
    return getattr(module, attribute)


def resolve_builder(
    model: Any, spec: DataSpec | None, *, search_paths: Sequence[Path] = ()
) -> kt.HyperModel:
    """The HyperModel for a registry name, a ``"package.module:function"`` reference (found
    from the working directory, then `search_paths`, then PYTHONPATH), a ``build(hp)`` or
    ``build(hp, spec)`` function, or a `kt.HyperModel` class or instance."""
    label = model if isinstance(model, str) else getattr(model, "__name__", type(model).__name__)
    if isinstance(model, str):
        if model in REGISTRY:
            return REGISTRY[model](spec) if spec is not None else _needs_data(model)
        if ":" not in model:
            raise ConfigError(
                f"unknown model {model!r}{did_you_mean(model, REGISTRY)}; "
                f"accepted: {', '.join(sorted(REGISTRY))}, or "
                "'package.module:function' for a builder of your own."
            )
        model = _import_reference(model, search_paths)
    if isinstance(model, kt.HyperModel):
        return model
    if isinstance(model, type) and issubclass(model, kt.HyperModel):
        return model()
    if callable(model) and _positional_count(model) in (1, 2) and not isinstance(model, type):
        return FunctionHyperModel(model, spec)
    raise ConfigError(
        f"model {label!r} must be a function build(hp) or build(hp, spec) "
        "returning a compiled keras.Model, or a keras_tuner.HyperModel, but got "
        f"{type(model).__name__}."
    )


def _needs_data(model: str) -> kt.HyperModel:
    raise ConfigError(f"model {model!r} is built for a dataset; give the data too.")


def get_builder(model: str, spec: DataSpec) -> kt.HyperModel:
    """The HyperModel for a registry name (``mlp``) or a user's ``package.module:function``."""
    return resolve_builder(model, spec)


__all__ = [
    "MLPHyperModel",
    "build_mlp",
    "get_builder",
    "resolve_builder",
    "has_own_fit",
    "FunctionHyperModel",
    "REGISTRY",
    "TRAINING_SETTINGS",
    "DEFAULT_BATCH_SIZE",
]
