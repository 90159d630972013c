import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# The suite runs on pytest-xdist workers, one per core: TensorFlow's own pools (all cores each)
# would only oversubscribe them. The environment reaches the processes the tests start too.
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    # Imported here, not at the top: pytest-xdist's controller loads this file too, and it
    # never runs a test (Keras' start would delay every worker's by 8-10 s on 2 cores).
    import keras

    keras.backend.clear_session(free_memory=False)
    yield


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that train for real (marked slow) run first: the workers share them out while
    many remain, and the many quick ones even out the end, instead of one worker finishing a
    long test alone while the other idles."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
