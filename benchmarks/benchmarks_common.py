"""Helpers of the benchmark scripts: timing a child process, reading the newest run summary."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path


def timed(cmd: list[str], cwd: Path | None = None) -> dict:
    """Run cmd; wall s from fork to exit, CPU s of the child tree, peak RSS MB, exit code, output."""
    start = time.perf_counter()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.dup2(w, 1)
        os.dup2(w, 2)
        if cwd is not None:
            os.chdir(cwd)
        os.execvp(cmd[0], cmd)
    os.close(w)
    with os.fdopen(r, "r", errors="replace") as fh:
        text = fh.read()
    _, status, usage = os.wait4(pid, 0)
    return {"wall_s": time.perf_counter() - start, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_mb": usage.ru_maxrss / 1024, "exit": os.waitstatus_to_exitcode(status), "output": text}


def latest_summary(results: Path) -> dict:
    runs = sorted((p for p in results.rglob("summary.json")), key=lambda p: p.stat().st_mtime)
    return json.loads(runs[-1].read_text(encoding="utf-8")) if runs else {}
