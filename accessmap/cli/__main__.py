"""``python -m accessmap.cli``: the command line."""

from accessmap.cli import main

__all__ = ["main"]

if __name__ == "__main__":  # pragma: no cover
    main()
