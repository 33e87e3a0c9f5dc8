import numpy as np
import pytest

import autocompyute as ac


@pytest.fixture(autouse=True)
def _seed():
    ac.manual_seed(0)
    np.random.seed(0)


def pytest_collection_modifyitems(config, items):
    if ac.cuda_available():
        return
    skip = pytest.mark.skip(reason="needs CuPy and an NVIDIA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
