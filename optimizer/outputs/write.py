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
import signal
import socket
import sys
import threading
import time
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
    """Yield a `.partial` folder; rename it into place only if the block completes.

    While the block runs, a first Ctrl-C does not interrupt it: the folder is finished
    (writing takes seconds, the plan behind it may have taken an hour) and the user is
    told so; a second Ctrl-C aborts and discards the folder. Unfinished folders left by
    a killed process (its pid, recorded beside the folder, no longer runs on this host)
    are removed when the next run starts in the same place.
    """
    run_id = run_id or new_run_id()
    final = Path(results_root) / instance_name / run_id
    partial = final.with_name(final.name + ".partial")
    if final.exists():
        raise FileExistsError(f"run folder {final} already exists")
    remove_stale_partials(final.parent)
    if partial.exists():  # left by a killed process: never complete, safe to replace
        shutil.rmtree(partial)
    partial.mkdir(parents=True, exist_ok=False)
    owner = _owner_file(partial)
    owner.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}), encoding="utf-8")
    try:
        with finish_before_interrupt(str(final)):
            yield partial
            os.replace(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    finally:
        owner.unlink(missing_ok=True)
    log.info("wrote %s", final)


def _owner_file(partial: Path) -> Path:
    return partial.with_name(partial.name + ".pid")


def remove_stale_partials(folder: Path) -> list[Path]:
    """Remove `<id>.partial` folders whose writing process has ended; return what was removed.

    A folder is stale when the pid recorded beside it does not run on this host, or when
    it has no record and is more than a day old (left by a version without records).
    Folders of a live process — a run in progress — are left alone.
    """
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for partial in folder.glob("*.partial"):
        if not partial.is_dir():
            continue
        owner = _owner_file(partial)
        stale = False
        try:
            record = json.loads(owner.read_text(encoding="utf-8"))
            stale = record.get("host") == socket.gethostname() and not _alive(int(record.get("pid", -1)))
        except (OSError, ValueError):
            try:
                stale = time.time() - partial.stat().st_mtime > 86400
            except OSError:
                continue
        if stale:
            shutil.rmtree(partial, ignore_errors=True)
            owner.unlink(missing_ok=True)
            removed.append(partial)
            log.warning("removed the unfinished run folder %s (the process writing it has ended)", partial)
    return removed


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


@contextmanager
def finish_before_interrupt(what: str) -> Iterator[None]:
    """Defer a first Ctrl-C until the block ends; a second one interrupts at once.

    Only in the main thread (signal handlers cannot be set elsewhere, e.g. Dask workers).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed: list[bool] = []

    def handler(signum: int, frame: Any) -> None:
        if pressed:
            raise KeyboardInterrupt
        pressed.append(True)
        log.warning("Ctrl-C: finishing %s first (a few seconds); press Ctrl-C again to abort and discard it", what)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        log.warning("%s is complete; stopped as asked", what)


def final_path(partial: Path) -> Path:
    return partial.with_name(partial.name.removesuffix(".partial"))


#: A text cell starting with one of these is run as a formula by Excel, WPS and LibreOffice.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_formula(value: Any) -> Any:
    """Text a spreadsheet would run as a formula, made inert with a leading apostrophe.

    A township named `=HYPERLINK(...)` must open as text. Spreadsheets hide the
    apostrophe; readers of our own files strip it again (`unescape_formula`).
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def unescape_formula(value: Any) -> Any:
    """The inverse of `escape_formula`, for reading a CSV this tool wrote."""
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(FORMULA_START):
        return value[1:]
    return value


def write_csv(path: Path, df: pd.DataFrame) -> None:
    """CSV in UTF-8 with BOM, so Excel on a Chinese Windows shows 富川 rather than mojibake.

    Text cells that a spreadsheet would run as formulas are escaped (`escape_formula`).
    """
    text = [c for c in df.columns if df[c].dtype == object or pd.api.types.is_string_dtype(df[c])]
    if text:
        df = df.copy()
        for c in text:
            df[c] = df[c].map(escape_formula)
    df.to_csv(path, index=False, encoding="utf-8-sig", float_format="%.12g")
