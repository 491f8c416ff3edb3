"""nenstudy: a neuroendocrine-neoplasm registry turned into a reproducible retrospective study."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nenstudy")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
