"""Writing a run folder atomically: everything goes to `<run id>.partial/`, then one rename.

A planner who finds `results/fuchuan/20261127-101500-ab12cd/` can trust it is complete:
a crash or Ctrl-C while writing leaves no such folder (the partial one is removed), and
`manifest.json`, written last, lists the sha256 of every other file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import secrets
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

DEPENDENCIES = ("pyomo", "highspy", "geopandas", "pyogrio", "shapely", "pyproj", "pandas", "numpy",
                "pydantic", "pyyaml", "typer", "rich")  # fmt: skip


def new_run_id() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def versions() -> dict[str, str]:
    from optimizer import __version__

    out = {"optimizer": __version__, "python": sys.version.split()[0], "platform": platform.platform()}
    for dist in DEPENDENCIES:
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj)}")


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=_json_default) + "\n", encoding="utf-8")


@contextmanager
def run_folder(results_root: Path, instance_name: str, run_id: str | None = None) -> Iterator[Path]:
    """Yield a `.partial` folder; rename it into place only if the block completes."""
    run_id = run_id or new_run_id()
    final = results_root / instance_name / run_id
    partial = final.with_name(final.name + ".partial")
    if final.exists():
        raise FileExistsError(f"run folder {final} already exists")
    if partial.exists():  # left by a killed process: never complete, safe to replace
        shutil.rmtree(partial)
    partial.mkdir(parents=True, exist_ok=False)
    try:
        yield partial
        os.replace(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    log.info("wrote %s", final)


def final_path(partial: Path) -> Path:
    return partial.with_name(partial.name.removesuffix(".partial"))


def write_csv(path: Path, df: pd.DataFrame) -> None:
    """CSV in UTF-8 with BOM, so Excel on a Chinese Windows shows 富川 rather than mojibake."""
    df.to_csv(path, index=False, encoding="utf-8-sig", float_format="%.12g")
