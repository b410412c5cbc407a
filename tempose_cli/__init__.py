"""tempose: self-supervised temporal pose features for diving and skiing video."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tempose")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+src"
