"""Every exception the package raises (re-exported from the private module that defines them)."""

from ._exceptions import *  # noqa: F403
from ._exceptions import __all__ as __all__
