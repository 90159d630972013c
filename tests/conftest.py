import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# The suite runs on pytest-xdist workers, one per core: TensorFlow's own pools (all cores each)
# would only oversubscribe them. The environment reaches the processes the tests start too.
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    keras.backend.clear_session(free_memory=False)
    yield
