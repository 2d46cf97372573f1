"""Where county subproblems run: in this process, in worker processes, or on a Dask cluster.

The counties are cut into contiguous chunks (`counties.CountyChunk`); each chunk's
arrays go to its worker once, when the pricer starts. A pricing pass then ships only
the multipliers (a few floats) and brings back each county's value and plan. On a Dask
cluster (`--scheduler`) the chunks are scattered to the workers once and every pass
runs where its chunk lives.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from optimizer.solve.decompose.counties import ChunkAnswer, CountyChunk, chunk_of

log = logging.getLogger(__name__)


@dataclass
class CountyAnswers:
    """Every county's best plan under one λ (merged from the chunks)."""

    value: np.ndarray  # (n_counties,)
    bound: np.ndarray  # (n_counties,), NaN for counties not solved this time
    choice: np.ndarray  # (n_townships,), −1 for townships of counties not solved
    highs_counties: int
    seconds: float  # wall time of the pass
    worker_seconds: float  # summed time inside the workers


class Pricer(Protocol):
    workers: int

    def price(self, lam: np.ndarray, todo: np.ndarray | None = None) -> CountyAnswers: ...

    def close(self) -> None: ...


def _bounds(n: int, k: int) -> list[tuple[int, int]]:
    edges = np.linspace(0, n, k + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def _merge(S: Any, parts: list[tuple[CountyChunk, ChunkAnswer]], wall: float) -> CountyAnswers:
    n_c = S.n_counties
    value = np.full(n_c, -np.inf)
    bound = np.full(n_c, np.nan)
    choice = np.full(len(S.t_township), -1, dtype=np.int64)
    highs = 0
    inside = 0.0
    for chunk, ans in parts:
        a, b = chunk.first, chunk.first + chunk.n_counties
        value[a:b] = ans.value
        bound[a:b] = ans.bound
        t0, t1 = S.county_tstart[a], S.county_tstart[b]
        choice[t0:t1] = ans.choice
        highs += ans.highs_counties
        inside += ans.seconds
    return CountyAnswers(value, bound, choice, highs, wall, inside)


def _nothing_to_do(todo: np.ndarray | None) -> bool:
    """A pass with no county to price (a warm start that reuses every county's answer)."""
    return todo is not None and not np.any(todo)


class SerialPricer:
    """Every county in this process (one chunk, built at the first pass that prices a county:
    a sweep point whose counties all keep their answers never needs it)."""

    workers = 1

    def __init__(self, S: Any, start: np.ndarray | None = None) -> None:
        self.S = S
        self._start = start
        self._chunks: list[CountyChunk] | None = None

    @property
    def chunks(self) -> list[CountyChunk]:
        if self._chunks is None:
            self._chunks = [chunk_of(self.S, 0, self.S.n_counties, self._start)]
        return self._chunks

    def price(self, lam: np.ndarray, todo: np.ndarray | None = None) -> CountyAnswers:
        t0 = time.perf_counter()
        if _nothing_to_do(todo):
            return _merge(self.S, [], time.perf_counter() - t0)
        parts = [(c, c.price(lam, None if todo is None else todo[c.first:c.first + c.n_counties])) for c in self.chunks]
        return _merge(self.S, parts, time.perf_counter() - t0)

    def close(self) -> None:
        pass


def _worker_loop(conn: Any, chunk: CountyChunk) -> None:
    """A worker process: holds its chunk, prices it for every λ it receives, until None."""
    while True:
        msg = conn.recv()
        if msg is None:
            break
        lam, todo = msg
        try:
            conn.send(("ok", chunk.price(lam, todo)))
        except Exception as exc:  # sent back and raised in the parent, with the county named
            conn.send(("error", exc))


class ProcessPricer:
    """Chunks in worker processes on this machine, started by fork so the chunk is never pickled."""

    def __init__(self, S: Any, workers: int, start: np.ndarray | None = None) -> None:
        self.S = S
        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context("spawn")
        self.chunks = [chunk_of(S, a, b, start) for a, b in _bounds(S.n_counties, workers)]
        self.workers = len(self.chunks)
        self.procs, self.conns = [], []
        for chunk in self.chunks:
            parent, child = ctx.Pipe()
            p = ctx.Process(target=_worker_loop, args=(child, chunk), daemon=True)
            p.start()
            child.close()
            self.procs.append(p)
            self.conns.append(parent)

    def price(self, lam: np.ndarray, todo: np.ndarray | None = None) -> CountyAnswers:
        t0 = time.perf_counter()
        if _nothing_to_do(todo):
            return _merge(self.S, [], time.perf_counter() - t0)
        for chunk, conn in zip(self.chunks, self.conns):
            conn.send((lam, None if todo is None else todo[chunk.first:chunk.first + chunk.n_counties]))
        parts = []
        for chunk, conn in zip(self.chunks, self.conns):
            kind, ans = conn.recv()
            if kind == "error":
                raise ans
            parts.append((chunk, ans))
        return _merge(self.S, parts, time.perf_counter() - t0)

    def close(self) -> None:
        for conn in self.conns:
            try:
                conn.send(None)
                conn.close()
            except OSError:
                pass
        for p in self.procs:
            p.join(timeout=2)
            if p.is_alive():
                p.terminate()


def _price_chunk(chunk: CountyChunk, lam: np.ndarray, todo: np.ndarray | None) -> ChunkAnswer:
    return chunk.price(lam, todo)


class DaskPricer:
    """Chunks scattered once to a Dask cluster; each pass runs where its chunk lives."""

    def __init__(self, S: Any, scheduler: str, start: np.ndarray | None = None) -> None:
        from dask.distributed import Client

        self.S = S
        self.client = Client(scheduler)
        n = max(1, sum(w.get("nthreads", 1) for w in self.client.scheduler_info()["workers"].values()))
        self.chunks = [chunk_of(S, a, b, start) for a, b in _bounds(S.n_counties, n)]
        self.workers = len(self.chunks)
        self.futures = self.client.scatter(self.chunks)

    def price(self, lam: np.ndarray, todo: np.ndarray | None = None) -> CountyAnswers:
        t0 = time.perf_counter()
        if _nothing_to_do(todo):
            return _merge(self.S, [], time.perf_counter() - t0)
        jobs = [self.client.submit(_price_chunk, fut, lam, None if todo is None else todo[c.first:c.first + c.n_counties],
                                   pure=False)
                for c, fut in zip(self.chunks, self.futures)]  # fmt: skip
        parts = list(zip(self.chunks, self.client.gather(jobs)))
        return _merge(self.S, parts, time.perf_counter() - t0)

    def close(self) -> None:
        self.client.close()


#: From this many choices (pairs kept) the counties are priced in one process per core.
#: Measured at 50,000 townships (118,000 choices) on the 2-core machine under load: 4
#: passes took 1.9–2.7 s each with 2 processes against 2.6–3.9 s in this process (0.4
#: CPU-s per pass), after 0.6 s to start the workers; below ~100,000 choices a pass
#: takes well under a second and the start-up does not pay.
PROCESS_FROM_CHOICES = 100_000


def pricer(S: Any, workers: int | None = None, scheduler: str | None = None,
           start: np.ndarray | None = None) -> Pricer:
    """The pricer for this machine: Dask when a scheduler is given, else processes or serial.
    `start`: a plan per township (global choice indices, −1 where none) the county searches
    start from (`counties.chunk_of`)."""
    if scheduler:
        return DaskPricer(S, scheduler, start)
    if workers is None:
        workers = (os.cpu_count() or 1) if len(S.ch_col) >= PROCESS_FROM_CHOICES else 1
    if mp.current_process().daemon:  # inside a Dask worker or a pool: no children allowed
        workers = 1
    if workers > 1 and S.n_counties > 1:
        return ProcessPricer(S, min(workers, S.n_counties), start)
    return SerialPricer(S, start)
