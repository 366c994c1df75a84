"""siting."""

__all__: list[str] = []
