"""``python -m optimizer.generate OUTDIR N SEED [--csv]``: write one instance."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import optimizer.generate
from optimizer.generate import generate_instance


def main(argv: list[str] | None = None) -> None:
    """``python -m optimizer.generate OUTDIR N SEED [--csv]``: write one instance."""
    parser = argparse.ArgumentParser(
        prog="python -m optimizer.generate",
        description=(optimizer.generate.__doc__ or "").splitlines()[0],
    )
    parser.add_argument("outdir", type=Path)
    parser.add_argument("n_townships", type=int)
    parser.add_argument("seed", type=int)
    parser.add_argument(
        "--csv", action="store_true", help="write townships.csv instead of a GeoPackage"
    )
    parser.add_argument("--name", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    generate_instance(
        args.outdir,
        args.n_townships,
        args.seed,
        table_format="csv" if args.csv else "gpkg",
        name=args.name,
    )


if __name__ == "__main__":
    main()
