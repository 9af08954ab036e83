"""The package version, in one place (pyproject reads it; SERVER headers carry it)."""

__version__ = "1.0.0a1"
