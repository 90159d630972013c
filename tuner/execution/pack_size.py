"""How many trials to pack into one model when a campaign says ``pack = "auto"``.

The rule, smallest cap wins:

- **memory**: K towers of `n_params` parameters, each taking `model_memory.training_bytes`,
  within `MEMORY_FRACTION` of the memory available now;
- **arithmetic**: packing pays while one tiny model leaves a step to Keras' per-step work;
  once a pack holds about `PACK_PARAMS` parameters its step is arithmetic, and more towers
  only make trials finish later;
- **the strategy**: a model-based strategy (Bayesian, TPE) proposes a pack's K points from one
  model of the results before any of them (constant liar), and the more lies, the less each
  proposal learns from the last results: at most `MODEL_BASED_PACK` (8 already spreads Keras'
  per-step work 8 ways; ``pack = K`` asks for more);
- `MAX_PACK` in any case.
"""

from __future__ import annotations

from tuner.model_memory import available_memory, training_bytes

MAX_PACK = 64
MODEL_BASED_PACK = 8
MEMORY_FRACTION = 0.25
PACK_PARAMS = 2**24  # ~16.8M parameters in one pack


def auto_pack_size(
    n_params: int,
    *,
    learns_from_results: bool = False,
    memory: int | None = None,
) -> int:
    """The pack size for ``pack = "auto"``: a model of `n_params` parameters, searched by a
    strategy that `learns_from_results` or not, with `memory` bytes available (None: asked
    of the system now). At least 1, at most `MAX_PACK`."""
    n_params = max(1, int(n_params))
    size = MAX_PACK
    memory = available_memory() if memory is None else memory
    if memory is not None:
        size = min(size, int(memory * MEMORY_FRACTION) // training_bytes(n_params))
    size = min(size, PACK_PARAMS // n_params)
    if learns_from_results:
        size = min(size, MODEL_BASED_PACK)
    return max(1, size)
