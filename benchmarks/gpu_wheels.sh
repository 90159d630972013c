#!/usr/bin/env bash
# Downloads into DEST (default .whl/, gitignored) every wheel that the GPU machine's image lacks
# and this package needs, for `benchmarks/gpu.sh` to install there without a registry:
#
#     bash benchmarks/gpu_wheels.sh                    # .whl/ for the GPU image's Python 3.12
#     bash benchmarks/gpu_wheels.sh /tmp/whl311 3.11   # the same list for a rehearsal here
#
# The image already holds JAX (CUDA), NumPy, pandas, scikit-learn, SciPy, matplotlib, grpcio,
# protobuf, h5py, ml-dtypes, absl-py, rich, tqdm, PyYAML, requests, packaging, joblib,
# typing-extensions, MarkupSafe, six and TensorBoard (/work/.library/device/KINDS.md); it has
# no TensorFlow, and the package runs there on KERAS_BACKEND=jax. pip runs with --no-deps (it
# cannot resolve against the image), so every missing dependency is named here by hand, each
# found with `unzip -p WHEEL '*/METADATA' | grep ^Requires-Dist`; the versions are the ones this
# project's .venv was tested with (`.venv/bin/pip freeze`).
set -euo pipefail

DEST=${1:-.whl}
PY=${2:-3.12}

WHEELS=(
    # pyproject.toml's dependencies that the image lacks
    keras==3.15.1
    keras-tuner==1.4.8
    scikit-optimize==0.10.2
    optuna==5.1.0
    mlxtend==0.25.0
    tomli-w==1.2.0
    # keras: absl-py numpy rich namex h5py optree ml-dtypes packaging
    namex==0.1.0
    optree==0.20.0
    # keras-tuner: keras packaging requests kt-legacy grpcio protobuf
    kt-legacy==1.0.5
    # scikit-optimize: joblib pyaml numpy scipy scikit-learn packaging
    pyaml==26.7.0
    # optuna: alembic colorlog numpy packaging sqlalchemy tqdm PyYAML
    alembic==1.20.1
    colorlog==6.12.0
    SQLAlchemy==2.1.9
    # alembic: SQLAlchemy Mako typing-extensions; Mako: MarkupSafe
    Mako==1.4.3
)

rm -rf "$DEST"
mkdir -p "$DEST"
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$PY" \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux1_x86_64 -d "$DEST" "${WHEELS[@]}"
count=$(find "$DEST" -type f -name '*.whl' | wc -l)
if [ "$count" -ne "${#WHEELS[@]}" ]; then
    echo "gpu_wheels.sh: $count wheels in $DEST for ${#WHEELS[@]} names: one is missing or doubled" >&2
    exit 1
fi
echo "$count wheels, $(du -sh "$DEST" | cut -f1) in $DEST (Python $PY)"
