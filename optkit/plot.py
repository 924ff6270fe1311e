"""``optkit.plot``: the plotting API under its short name (``optkit.plots`` re-exported)."""

from .plots import *  # noqa: F403
from .plots import __all__  # noqa: F401
