import os

import matplotlib
import pytest

matplotlib.use("Agg")  # no screen in CI
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
