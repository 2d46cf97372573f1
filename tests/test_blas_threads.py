"""numpy's BLAS runs on one thread in the optimiser's processes unless the user says otherwise
(optimizer/__init__.py says why)."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = ("import os, optimizer, numpy; "
         "print(os.environ.get('OPENBLAS_NUM_THREADS'))")


def _probe(env: dict[str, str]) -> str:
    res = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=60, check=True)
    return res.stdout.strip()


def test_one_blas_thread_by_default_and_the_users_count_otherwise() -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    assert _probe(env) == "1"
    assert _probe({**env, "OPENBLAS_NUM_THREADS": "2"}) == "2"
