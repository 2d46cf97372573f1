"""Solving with HiGHS through Pyomo's highspy interface: the only module that talks to it.

Three promises to the planner live here:
- the time limit is kept: HiGHS's own limit is backed by interrupt callbacks that check
  the wall clock, because HiGHS has been seen overrunning a 120 s limit by minutes on
  large models when no incumbent exists;
- Ctrl-C stops the solve cleanly and keeps the incumbent, like a time limit;
- objective, bound and gap are always reported, since "optimal" in HiGHS means "within
  mip_rel_gap", not "proven to the last yuan".
"""

from __future__ import annotations

import io
import logging
import os
import signal
import threading
import time
from pathlib import Path
from collections.abc import Callable
from typing import Any

import highspy
import pyomo.environ as pyo
from pyomo.contrib.solver.solvers.highs import Highs

from optimizer.solve.options import DEFAULT_GAP, SolveOptions, SolveOutcome, relative_gap

log = logging.getLogger(__name__)

#: Progress reports: elapsed s, time limit s (or None), best plan and bound in yuan (or None).
Progress = Callable[[dict[str, Any]], None]


class _Guard:
    """Interrupts HiGHS when the wall clock passes the limit or the user presses Ctrl-C.

    Also the source of live progress: HiGHS calls it often from its own callbacks, and
    every half second it passes elapsed time, best plan, bound and gap to `progress`.
    """

    def __init__(self, time_limit: float | None, progress: Progress | None = None, unit: float = 1.0) -> None:
        self.started = time.monotonic()
        self.time_limit = time_limit
        self.deadline = None if time_limit is None else self.started + time_limit
        self.user_interrupted = False
        self.timed_out = False
        self.best: float | None = None
        self.progress = progress
        self.unit = unit
        self._last_report = 0.0
        self.enough: Callable[[float | None, float | None], bool] | None = None
        self.enough_reached = False

    def __call__(self, event: Any) -> None:
        now = time.monotonic()
        if self.progress is not None and now - self._last_report >= 0.5:
            self._last_report = now
            self._report(event, now)
        if self.user_interrupted:
            event.interrupt()
        elif self.deadline is not None and now > self.deadline:
            self.timed_out = True
            event.interrupt()
        elif self.enough is not None:
            data = getattr(event, "data_out", None)
            primal = getattr(data, "mip_primal_bound", None)
            dual = getattr(data, "mip_dual_bound", None)
            primal = primal if primal is not None and abs(primal) < 1e30 else None
            dual = dual if dual is not None and abs(dual) < 1e30 else None
            if self.enough(primal, dual):
                self.enough_reached = True
                event.interrupt()

    def _report(self, event: Any, now: float) -> None:
        data = getattr(event, "data_out", None)
        best = bound = gap = None
        if data is not None:
            primal, dual = getattr(data, "mip_primal_bound", None), getattr(data, "mip_dual_bound", None)
            best = primal * self.unit if primal is not None and abs(primal) < 1e30 else None
            bound = dual * self.unit if dual is not None and abs(dual) < 1e30 else None
            g = getattr(data, "mip_gap", None)
            gap = g if g is not None and 0 <= g < 1e30 and best is not None else None
        try:
            self.progress({"elapsed_s": now - self.started, "time_limit_s": self.time_limit,  # type: ignore[misc]
                           "best_yuan": best, "bound_yuan": bound, "gap": gap})
        except Exception as exc:  # a display problem must never stop a solve
            log.debug("progress display failed: %s", exc)
            self.progress = None

    def on_sigint(self, signum: int, frame: Any) -> None:
        if self.user_interrupted:  # a second Ctrl-C: the user really wants out
            raise KeyboardInterrupt
        self.user_interrupted = True
        log.warning("Ctrl-C: stopping HiGHS and keeping the best plan found so far (press again to abort)")


class _LogTee(io.TextIOBase):
    """Echoes HiGHS's log line by line to the terminal while it solves (shown with -v).

    Pyomo captures file descriptors 1 and 2 during the solve, so anything written to
    sys.stderr or through logging would be captured too and fed back into this tee (a
    deadlock). The echo therefore goes to a duplicate of the original stderr descriptor
    taken before the solve.
    """

    def __init__(self, stream: io.TextIOBase) -> None:
        self._buf = ""
        self._stream = stream

    def write(self, s: str) -> int:
        self._buf += s
        while "\n" in self._buf:
            line, self._buf = self._buf.split("\n", 1)
            if line.strip():
                self._stream.write(f"HiGHS | {line}\n")
        return len(s)

    def flush(self) -> None:
        self._stream.flush()


def write_model(m: pyo.ConcreteModel, path: Path) -> None:
    """Write the model as LP or MPS (by extension) with readable names, for inspection."""
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("lp", "mps"):
        raise ValueError(f"--write-model needs a .lp or .mps file name, not '{path.name}'")
    path.parent.mkdir(parents=True, exist_ok=True)
    m.write(str(path), format=fmt, io_options={"symbolic_solver_labels": True})


def solve(
    m: pyo.ConcreteModel,
    options: SolveOptions,
    start: list[tuple[Any, float]] | None = None,
    progress: Progress | None = None,
    enough: Callable[[float | None, float | None], bool] | None = None,
) -> SolveOutcome:
    """Solve with HiGHS; load the incumbent into the model whenever one exists.

    `start` is an optional MIP start: [(Pyomo variable, value)], possibly partial (HiGHS
    completes a partial start by solving a small sub-MIP over the unset variables).
    `progress` is called about twice a second from HiGHS's callbacks (see `_Guard`); it
    runs while Pyomo captures stdout/stderr, so it must write to its own stream.
    `enough(best, bound)` (model units, None while unknown) stops HiGHS as soon as it
    returns True: a caller holding a bound of its own (the decomposition's) stops HiGHS
    when the two together prove the gap; the outcome's status is then "stopped_feasible".
    """
    opt = Highs()
    t0 = time.perf_counter()
    opt.set_instance(m)
    transfer = time.perf_counter() - t0
    h: highspy.Highs = opt._solver_model  # the highspy object; public way to reach callbacks
    if start:
        col_of = opt._pyomo_var_to_solver_var_map  # {id(var): column}, filled by set_instance
        cols = [(col_of[id(v)], val) for v, val in start if id(v) in col_of]
        if cols:
            import numpy as np

            idx = np.array([c for c, _ in cols], dtype=np.int32)
            vals = np.array([v for _, v in cols], dtype=np.float64)
            status = h.setSolution(len(cols), idx, vals)
            log.info("MIP start with %d of %d columns set (%s)", len(cols), h.getNumCol(), status)

    guard = _Guard(options.time_limit, progress, getattr(m, "objective_unit_yuan", 1.0))
    guard.enough = enough
    for cb in (h.cbSimplexInterrupt, h.cbIpmInterrupt, h.cbMipInterrupt):
        cb.subscribe(guard)

    gap = DEFAULT_GAP if options.gap is None else options.gap  # callers resolve it per size (for_size)
    solver_options = {"random_seed": options.seed, "mip_rel_gap": gap, **options.extra}
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, guard.on_sigint)
    tee: list[io.TextIOBase] = []
    echo = None
    if log.isEnabledFor(logging.INFO):
        echo = os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace")
        tee.append(_LogTee(echo))
    # Pyomo warns about HiGHS's "interrupted" status, which is our own time guard at work.
    pyomo_highs_log = logging.getLogger("pyomo.contrib.solver.solvers.highs")
    old_level = pyomo_highs_log.level
    pyomo_highs_log.setLevel(logging.ERROR)
    t1 = time.perf_counter()
    try:
        results = opt.solve(
            m,
            load_solutions=False,
            raise_exception_on_nonoptimal_result=False,
            time_limit=options.time_limit,
            threads=options.threads,
            tee=tee,
            solver_options=solver_options,
        )
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        if echo is not None:
            echo.close()
        pyomo_highs_log.setLevel(old_level)
    solve_seconds = time.perf_counter() - t1

    status = h.getModelStatus()
    info = h.getInfo()
    has_solution = info.primal_solution_status == 2
    unit = getattr(m, "objective_unit_yuan", 1.0)  # the model's objective is in 万元
    objective = info.objective_function_value * unit if has_solution else None
    mip_nodes = info.mip_node_count if info.mip_node_count >= 0 else None
    if mip_nodes is None:  # a pure LP: the bound is the optimum itself when solved
        bound = objective if status == highspy.HighsModelStatus.kOptimal else None
    else:
        bound = info.mip_dual_bound * unit if abs(info.mip_dual_bound) < 1e300 else None
    termination = h.modelStatusToString(status)
    if guard.timed_out and not guard.user_interrupted:  # our own time guard stopped HiGHS, not the user
        termination = "Time limit reached"
    elif guard.enough_reached and not guard.user_interrupted:
        termination = "Stopped: gap proven together with the decomposition's bound"

    if status == highspy.HighsModelStatus.kOptimal:
        label = "optimal"
    elif status in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible):
        label = "infeasible"
    elif guard.user_interrupted:
        label = "interrupted_feasible" if has_solution else "interrupted_no_solution"
    elif guard.enough_reached and has_solution:
        label = "stopped_feasible"
    elif status == highspy.HighsModelStatus.kTimeLimit or guard.timed_out:
        label = "time_limit_feasible" if has_solution else "time_limit_no_solution"
    elif has_solution:
        label = "stopped_feasible"
    else:
        label = "error"

    families: list[str] = []
    iis: list[str] = []
    relaxation: list[dict[str, Any]] = []
    ways_out: list[dict[str, Any]] = []
    if label == "infeasible":
        from optimizer.solve.diagnose import conflict_holds, elastic_relaxation, iis_rows

        # The diagnosis shares the user's time limit (60 s without one).
        budget = 60.0 if options.time_limit is None else max(0.5, options.time_limit - solve_seconds)
        deadline = time.monotonic() + budget
        iis = iis_rows(opt, h)
        if iis and not conflict_holds(m, iis, options, budget / 4):
            log.info("HiGHS's candidate conflict set %s is not infeasible on its own; not reported", iis)
            iis = []
        relaxation = elastic_relaxation(m, options, budget) or []
        families = sorted({r.split("[", 1)[0] for r in iis} | {r["family"] for r in relaxation})
        # Each family of the conflict alone, where moving it alone is enough: the ways out.
        for family in families:
            left = deadline - time.monotonic()
            if left < 0.2:
                break
            alone = elastic_relaxation(m, options, left, only={family})
            if alone is not None:
                ways_out.append({"family": family, "rows": alone})
    if has_solution:
        results.solution_loader.load_vars()

    outcome = SolveOutcome(
        status=label,
        termination=termination,
        has_solution=has_solution,
        objective=objective,
        bound=bound,
        gap=relative_gap(objective, bound),
        solve_seconds=solve_seconds,
        transfer_seconds=transfer,
        mip_nodes=mip_nodes,
        log_text=results.solver_log or "",
        infeasible_families=families,
        infeasible_rows=iis,
        relaxation=relaxation,
        ways_out=ways_out,
        options={
            "solver": "HiGHS",
            "highs_version": ".".join(str(v) for v in opt.version()),
            "time_limit_s": options.time_limit,
            "mip_rel_gap": gap,
            "gap_rule": options.gap_rule,
            "threads": options.threads,
            "random_seed": options.seed,
            **options.extra,
        },
    )
    log.info(
        "HiGHS: %s, objective %s, bound %s, gap %s, %.2f s",
        termination,
        objective,
        bound,
        outcome.gap,
        solve_seconds,
    )
    return outcome
