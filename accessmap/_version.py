"""The accessmap version (its own module, so no submodule imports the package root)."""

__all__: list[str] = []

__version__ = "0.2.0"
