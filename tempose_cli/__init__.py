"""tempose: self-supervised temporal pose features for diving and skiing video."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # Looked up on first use, not at import: importlib.metadata costs every command
    # ~40 ms of start-up (issue 12), and only --version, doctor and exports need it.
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        value = version("tempose")
    except PackageNotFoundError:  # running from a source tree that was not installed
        value = "0.0.0+src"
    globals()["__version__"] = value
    return value
