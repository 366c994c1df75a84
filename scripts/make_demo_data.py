"""Generate the embedded synthetic demo district (``data/demo`` by default).

Usage::

    python scripts/make_demo_data.py [--out data/demo] [--seed 20261122]

The output is SYNTHETIC (not a real place) and a pure function of the seed.
"""

from __future__ import annotations

import argparse
import logging

from accessmap.demo.generator import DEFAULT_SEED, make_demo_data


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data/demo", help="output folder (default: data/demo)")
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default: {DEFAULT_SEED})"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Write the demo files and log where they went."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for key, path in make_demo_data(args.out, seed=args.seed).items():
        logging.getLogger("make_demo_data").info("%-10s %s", key, path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
