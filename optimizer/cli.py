"""The command-line face of the optimiser: subcommands, exit codes, rich output.

No modelling logic lives here: each command calls the library and presents the result.
Only this module prints.

Exit codes (also in `optimizer --help`):
  0  solved within the gap (or the command succeeded)
  1  internal error (a bug: rerun with --debug and report the traceback)
  2  invalid input (every problem is listed with its file and line/row)
  3  the instance is infeasible: no plan meets every limit
  4  stopped (time limit or Ctrl-C) before any plan was found
  5  the independent checker disagrees with the solver's plan
  6  stopped (time limit or Ctrl-C) with a plan: results written, flagged as not proven
  7  `evaluate`: the planner's plan breaks at least one limit
"""

from __future__ import annotations

import json
import logging
import math
import sys
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table

from optimizer import __version__
from optimizer.errors import InputError, Location, Problem


class Exit(IntEnum):
    OK = 0
    INTERNAL = 1
    INVALID_INPUT = 2
    INFEASIBLE = 3
    NO_SOLUTION = 4
    CHECK_FAILED = 5
    STOPPED_WITH_PLAN = 6
    PLAN_VIOLATES = 7
    ABORTED = 130


EPILOG = (
    "Exit codes: 0 solved; 1 internal error; 2 invalid input; 3 infeasible; 4 stopped without a plan; "
    "5 checker disagrees; 6 stopped early with a plan (written, flagged); 7 (evaluate) the plan breaks a limit."
)

app = typer.Typer(
    name="optimizer",
    help=(
        "Karst township industrial-layout optimiser (石漠化地区 一乡一业 产业布局优化).\n\n"
        "Chooses one industry per township (apple, citrus, agro-PV, conservation, …) to maximise GEP "
        "and farmers' income under soil, water, sunlight, market, grid and budget limits, with HiGHS.\n\n"
        "Typical week: `optimizer validate my.yaml`, then `optimizer solve my.yaml`, then open "
        "results/<instance>/<run>/allocation.gpkg in QGIS."
    ),
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
_state = {"debug": False, "quiet": False}


def _version(value: bool) -> None:
    if value:
        out.print(f"optimizer {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More detail: -v progress and HiGHS log, -vv debug.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors and the final result.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors (for bug reports).")] = False,
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")] = None,
) -> None:
    level = logging.WARNING
    if verbose == 1:
        level = logging.INFO
    elif verbose >= 2 or debug:
        level = logging.DEBUG
    if quiet:
        level = logging.ERROR
    logging.basicConfig(
        level=level,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False, rich_tracebacks=debug)],
        force=True,
    )
    if level > logging.DEBUG:
        logging.getLogger("pyomo").setLevel(max(level, logging.WARNING))
    _state["debug"] = debug
    _state["quiet"] = quiet


def _fail_input(exc: InputError) -> None:
    n = len(exc.problems)
    err.print(f"[bold red]The instance has {n} problem{'s' if n != 1 else ''}:[/]")
    for p in exc.problems:
        err.print(f"  [cyan]{escape(str(p.location))}[/]  {escape(p.path + ': ' if p.path else '')}{escape(p.message)}"
                  + (f"  [green]({escape(p.suggestion)})[/]" if p.suggestion else ""), highlight=False)
    raise typer.Exit(Exit.INVALID_INPUT)


def _names(text: str | None) -> list[str]:
    return [n.strip() for n in (text or "").split(",") if n.strip()]


def _fmt(x: float | None, digits: int = 0) -> str:
    if x is None:
        return "—"
    return f"{x:,.{digits}f}"


@app.command(epilog=EPILOG)
def solve(
    instance: Annotated[Path, typer.Argument(help="Instance YAML file, e.g. instances/fuchuan/fuchuan.yaml.")],
    time_limit: Annotated[Optional[float], typer.Option("--time-limit", help="Stop HiGHS after this many seconds and keep the best plan found.", min=0.01)] = None,
    gap: Annotated[float, typer.Option("--gap", help="Relative MIP gap at which HiGHS stops (1e-4 = within 0.01% of the best possible).", min=0.0)] = 1e-4,
    threads: Annotated[int, typer.Option("--threads", help="HiGHS threads (1 is reproducible and usually as fast).", min=1)] = 1,
    seed: Annotated[int, typer.Option("--seed", help="HiGHS random seed, fixed so reruns give the same plan.")] = 20260101,
    write_model_to: Annotated[Optional[Path], typer.Option("--write-model", help="Also write the model as .lp or .mps (by extension) with readable names.")] = None,
    results: Annotated[Path, typer.Option("--results", help="Folder for run outputs.")] = Path("results"),
    scenario: Annotated[Optional[str], typer.Option("--scenario", "-s", help="Scenarios or named overrides of the instance to apply, comma-separated, in order: --scenario dry_year,pv_price_cut.")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Change one value by its path (repeatable; applied after scenarios): --set constraints.water.county_max_m3.富川瑶族自治县=0.7*  (a trailing * multiplies).")] = None,
) -> None:
    """Solve an instance and write results/<instance>/<run id>/ (CSV, GeoPackage, summary, manifest).

    Example: optimizer solve instances/fuchuan/fuchuan.yaml --time-limit 60
    """
    from optimizer.run import solve_instance
    from optimizer.solve import SolveOptions

    if write_model_to is not None and write_model_to.suffix.lower() not in (".lp", ".mps"):
        err.print(f"[red]--write-model needs a file ending in .lp or .mps, not '{write_model_to.name}'[/]")
        raise typer.Exit(Exit.INVALID_INPUT)
    options = SolveOptions(time_limit=time_limit, gap=gap, threads=threads, seed=seed)
    try:
        with err.status("starting", spinner="dots") if not _state["quiet"] else _null() as status:
            def phase(name: str) -> None:
                if status is not None:
                    status.update(name)
                logging.getLogger("optimizer").info("%s …", name)

            result = solve_instance(
                instance, options, results_root=results, model_file=write_model_to, phase=phase,
                scenarios=_names(scenario), sets=set_ or [],
            )
    except InputError as exc:
        _fail_input(exc)
        return
    s = result.summary
    status_text = s["status"]
    if result.outcome is not None and status_text == "infeasible":
        fam = ", ".join(s.get("infeasible_families") or [])
        if not fam:
            fam = ("(none alone: the conflict involves several limits together with the one-industry choice; "
                   "check locks, income floors, conservation share and budgets)")
        err.print(f"[bold red]Infeasible:[/] no plan meets every limit. Limits in conflict: {escape(fam)}")
        raise typer.Exit(Exit.INFEASIBLE)
    if s["status"] == "error":
        err.print(f"[bold red]HiGHS failed ({escape(str(s['termination']))}).[/] Nothing was written. "
                  "Rerun with -v to see the HiGHS log, and report it with the instance.")
        raise typer.Exit(Exit.INTERNAL)
    if s["status"] == "interrupted_no_solution":
        err.print("[bold yellow]Interrupted before HiGHS found any plan.[/] Nothing was written.")
        raise typer.Exit(Exit.NO_SOLUTION)
    if result.run_dir is None:
        err.print(
            f"[bold red]Stopped ({s['termination']}) before HiGHS found any plan.[/] Nothing was written. "
            "Give it more time (--time-limit) or a looser --gap."
        )
        raise typer.Exit(Exit.NO_SOLUTION)
    _print_summary(s, result.run_dir, result.timings)
    if result.check_ok is False:
        err.print("[bold red]The independent checker disagrees with the solver's plan:[/]")
        for msg in result.check_messages[:20]:
            err.print(f"  {msg}", highlight=False, markup=False)
        raise typer.Exit(Exit.CHECK_FAILED)
    if status_text != "optimal":
        err.print(
            f"[bold yellow]Stopped early ({status_text}):[/] the plan is feasible but not proven best; "
            + (f"gap {s['gap']:.2%} to the bound." if s["gap"] is not None else "HiGHS had no bound yet.")
        )
        raise typer.Exit(Exit.STOPPED_WITH_PLAN)


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *a: object) -> None:
        return None


def _print_summary(s: dict, run_dir: Path, timings: dict[str, float]) -> None:
    tot = s["totals"]
    table = Table(title=f"{s['instance']} — {s['status']}", show_header=True, header_style="bold")
    table.add_column("figure")
    table.add_column("plan", justify="right")
    table.add_column("baseline", justify="right")
    table.add_row("objective (yuan/yr)", _fmt(s["objective_yuan"]), "")
    table.add_row("best bound (yuan/yr)", _fmt(s["bound_yuan"]), "")
    table.add_row("gap", f"{s['gap']:.4%}" if s["gap"] is not None else "—", "")
    table.add_row("farmers' income (yuan/yr)", _fmt(tot["farmer_income_after_price_steps_yuan"]), _fmt(tot["baseline_farmer_income_yuan"]))
    table.add_row("GEP total (yuan/yr)", _fmt(tot["gep_total_yuan"]), _fmt(tot["baseline_gep_total_yuan"]))
    for cat in ("material", "regulating", "cultural"):
        table.add_row(f"  GEP {cat}", _fmt(tot[f"gep_{cat}_yuan"]), "")
    table.add_row("water use (m³/yr)", _fmt(tot["water_use_m3"]), "")
    table.add_row("PV capacity (MWp)", _fmt(tot["pv_capacity_mw"], 1), "")
    table.add_row("investment (yuan)", _fmt(tot["investment_yuan"]), "")
    for ind, n in sorted(tot["townships_by_industry"].items()):
        table.add_row(f"townships: {ind}", str(n), "")
    out.print(table)
    if s.get("overrides_applied"):
        out.print("What-if changes applied:", highlight=False)
        for a in s["overrides_applied"]:
            out.print(f"  {a['path']}: {a['old']!r} → {a['new']!r}  ({a['source']})", highlight=False, markup=False)
    binding = s.get("binding_constraints", [])
    if binding:
        out.print(f"Binding limits ({len(binding)}): " + ", ".join(binding[:12]) + (" …" if len(binding) > 12 else ""), highlight=False, markup=False)
    near = s.get("nearly_binding_constraints", [])
    if near:
        out.print(f"Limits ≥ 95% used ({len(near)}): " + ", ".join(near[:12]) + (" …" if len(near) > 12 else ""), highlight=False, markup=False)
    steps = s.get("price_steps_reached", [])
    if steps:
        out.print(f"Falling-price steps reached: {', '.join(steps)}", highlight=False, markup=False)
    phases = ", ".join(f"{k} {v:.2f}s" for k, v in timings.items())
    out.print(f"Timings: {phases}", highlight=False, markup=False)
    out.print(f"Results: [bold]{run_dir}[/] (allocation.gpkg opens in QGIS)")


@app.command(epilog=EPILOG)
def validate(
    instance: Annotated[Path, typer.Argument(help="Instance YAML file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print problems as JSON (for editors and scripts).")] = False,
    scenario: Annotated[Optional[str], typer.Option("--scenario", "-s", help="Scenarios or named overrides to apply first, comma-separated.")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Change one value by its path (repeatable), as for solve.")] = None,
) -> None:
    """Check an instance without solving: every problem at once, with file and line or row."""
    from optimizer.run import load_and_validate

    try:
        valid = load_and_validate(instance, scenarios=_names(scenario), sets=set_ or [])
    except InputError as exc:
        if as_json:
            out.print_json(json.dumps([p.to_dict() for p in exc.problems], ensure_ascii=False))
            raise typer.Exit(Exit.INVALID_INPUT) from None
        _fail_input(exc)
        return
    n_pairs = int(valid.pairs["allowed"].sum())
    if as_json:
        out.print_json(json.dumps([]))
        return
    out.print(
        f"[green]OK[/] {instance}: {len(valid.townships)} townships, "
        f"{sum(1 for i in valid.spec.industries.values() if i.candidate)} candidate industries, "
        f"{n_pairs} allowed township-industry pairs."
    )


@app.command(epilog=EPILOG)
def sweep(
    instance: Annotated[Optional[Path], typer.Argument(help="Instance YAML file (not needed with --resume).")] = None,
    vary: Annotated[Optional[list[str]], typer.Option("--vary", help="PATH=v1,v2,... or PATH=start:stop:step (a trailing * makes factors: 0.6:1.0:0.1*). Repeat for a Cartesian product.")] = None,
    scenario: Annotated[Optional[str], typer.Option("--scenario", "-s", help="Scenarios applied to every point, comma-separated.")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="A fixed change applied to every point (repeatable).")] = None,
    time_limit: Annotated[Optional[float], typer.Option("--time-limit", help="HiGHS time limit per point (s).", min=0.01)] = None,
    gap: Annotated[float, typer.Option("--gap", help="Relative MIP gap per point.", min=0.0)] = 1e-4,
    threads: Annotated[int, typer.Option("--threads", help="HiGHS threads per point.", min=1)] = 1,
    seed: Annotated[int, typer.Option("--seed", help="HiGHS random seed.")] = 20260101,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="Address of an existing Dask scheduler (tcp://host:8786); default: a local cluster.")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", help="Workers of the local cluster (default: one per core, at most one per chain).", min=1)] = None,
    serial: Annotated[bool, typer.Option("--serial", help="Run in this process without Dask.")] = False,
    resume: Annotated[Optional[Path], typer.Option("--resume", help="A sweep folder to finish: runs only the points without a finished run.")] = None,
    warm_start: Annotated[bool, typer.Option("--warm-start/--cold-start", help="Start each point from the previous point's plan (a repaired MIP start). Off by default: it did not pay on the benchmark (docs/performance.md).")] = False,
    results: Annotated[Path, typer.Option("--results", help="Folder for run outputs.")] = Path("results"),
) -> None:
    """Run a what-if sweep: every combination of --vary values is a full run, on Dask.

    Example: optimizer sweep instances/fuchuan/fuchuan.yaml
      --vary "constraints.water.county_max_m3.富川瑶族自治县=0.6:1.0:0.1*"
      --vary industries.agro_pv.price_yuan_per_unit=300,360
    Writes results/<instance>/sweep-<id>/ with one run folder per point, sweep_summary.csv and sweep.png.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from optimizer.instance.load import load_instance
    from optimizer.sweep import SweepSpec, new_sweep_dir, parse_vary, run_sweep

    try:
        if resume is not None:
            if not (resume / "sweep.json").exists():
                raise InputError([Problem(Location(resume), "not a sweep folder (no sweep.json)",
                                          "give the folder `optimizer sweep` printed, results/<instance>/sweep-<id>")])
            saved = json.loads((resume / "sweep.json").read_text(encoding="utf-8"))["spec"]
            from optimizer.sweep import Vary

            spec = SweepSpec(**{**saved, "varies": [Vary(**v) for v in saved["varies"]]})
            sweep_dir = resume
            from optimizer.sweep import point_done

            finished = sum(point_done(sweep_dir, p["id"]) for p in spec.points())
            err.print(f"Resuming {escape(str(sweep_dir))}: {finished} of {len(spec.points())} points already finished.")
        else:
            if instance is None or not vary:
                err.print("[red]give an INSTANCE and at least one --vary (or --resume SWEEP_DIR)[/]")
                raise typer.Exit(Exit.INVALID_INPUT)
            varies = [parse_vary(v) for v in vary]
            spec = SweepSpec(
                instance=str(instance.resolve()), varies=varies, scenarios=_names(scenario), sets=set_ or [],
                options={"time_limit": time_limit, "gap": gap, "threads": threads, "seed": seed},
                warm_start=warm_start,
            )
            # Check the instance and every value once, up front: a typo fails fast, not per point.
            loaded = load_instance(instance, scenarios=spec.scenarios, sets=spec.sets)
            for v in varies:
                for val in v.values:
                    load_instance(instance, scenarios=spec.scenarios, sets=[*spec.sets, f"{v.path}={val}"])
            sweep_dir = new_sweep_dir(results, loaded.spec.name)
    except InputError as exc:
        _fail_input(exc)
        return
    with Progress(TextColumn("[bold]sweep"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[failed]} failed"),
                  TimeElapsedColumn(), console=err, disable=_state["quiet"]) as bar:
        task = bar.add_task("points", total=len(spec.points()), failed=0)

        def progress(done: int, failed: int, total: int) -> None:
            bar.update(task, completed=done, failed=failed)

        try:
            table = run_sweep(spec, sweep_dir, scheduler=scheduler, workers=workers, serial=serial, progress=progress)
        except KeyboardInterrupt:
            from optimizer.sweep import point_done

            finished = sum(point_done(sweep_dir, p["id"]) for p in spec.points())
            bar.stop()
            err.print(f"[yellow]Interrupted: {finished} of {len(spec.points())} points are finished and kept.[/] "
                      f"Finish the rest with: optimizer sweep --resume {escape(str(sweep_dir))}")
            raise typer.Exit(Exit.ABORTED) from None
    show = Table(title=f"sweep {sweep_dir.name}", header_style="bold")
    cols = ["point", "status", "objective_yuan", "gep_total_yuan", "farmer_income_yuan", "townships_changed_from_first"]
    for c in cols:
        show.add_column(c, justify="left" if c in ("point", "status") else "right")
    for _, r in table.iterrows():
        show.add_row(*[(_fmt(r[c]) if isinstance(r.get(c), float) and not math.isnan(r[c]) else str(r.get(c, "")))
                       for c in cols])
    out.print(show)
    out.print(f"Sweep folder: [bold]{escape(str(sweep_dir))}[/] (sweep_summary.csv, sweep.png, points/)")
    n_infeasible = int((table["status"] == "infeasible").sum())
    if n_infeasible:
        out.print(f"{n_infeasible} point(s) have no feasible plan (status 'infeasible'; the limits in conflict are "
                  "in sweep_summary.csv). That is an answer, not an error.", highlight=False, markup=False)
    n_failed = int((table["status"] == "failed").sum())
    if n_failed:
        err.print(f"[yellow]{n_failed} point(s) failed; see points/*.failed.json, fix the cause, then "
                  f"optimizer sweep --resume {escape(str(sweep_dir))}[/]")
        raise typer.Exit(Exit.INTERNAL)


@app.command()
def schema(
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Print the instance JSON Schema, for editor validation as you type.

    In VS Code (YAML extension), put this first line in an instance file:
    # yaml-language-server: $schema=./instance.schema.json
    """
    from optimizer.instance.schema import Instance

    text = json.dumps(Instance.model_json_schema(), indent=2, ensure_ascii=False)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
        err.print(f"wrote {output}")
    else:
        sys.stdout.write(text + "\n")


@app.command()
def generate(
    outdir: Annotated[Path, typer.Argument(help="Folder to write instance.yaml and its township table into.")],
    townships: Annotated[int, typer.Option("--townships", "-n", help="Number of townships.", min=1)] = 100,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same instance).")] = 1,
    table_format: Annotated[str, typer.Option("--format", help="Township table format: gpkg (polygons) or csv.")] = "gpkg",
) -> None:
    """Write a random but realistic instance (binding water, grid, market and budget limits)."""
    from optimizer.generate import generate_instance

    if table_format not in ("gpkg", "csv"):
        err.print("[red]--format must be gpkg or csv[/]")
        raise typer.Exit(Exit.INVALID_INPUT)
    path = generate_instance(outdir, townships, seed, table_format=table_format)  # type: ignore[arg-type]
    out.print(f"wrote {path}")


@app.command()
def check(
    instance: Annotated[Path, typer.Argument(help="Instance YAML file the run was made from.")],
    run_dir: Annotated[Path, typer.Argument(help="Run folder holding allocation.csv and summary.json.")],
) -> None:
    """Recheck a run independently: every limit and the objective, from the input tables.

    A what-if run (scenarios, --set) is checked against the limits it was solved under,
    from its own instance.resolved.yaml.
    """
    from optimizer.check import check_run

    if not (run_dir / "summary.json").exists() or not (run_dir / "allocation.csv").exists():
        err.print(f"[red]{escape(str(run_dir))} is not a finished run folder (no summary.json and allocation.csv)[/]")
        raise typer.Exit(Exit.INVALID_INPUT)
    resolved = run_dir / "instance.resolved.yaml"
    if resolved.exists():
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        if summary.get("overrides_applied"):
            err.print(f"checking against the run's resolved instance ({len(summary['overrides_applied'])} what-if changes)")
            instance = resolved
    report = check_run(instance, run_dir)
    if report.ok:
        out.print(f"[green]OK[/] every limit holds; objective recomputed as {report.objective_yuan:,.0f} yuan")
        return
    for v in report.violations:
        err.print(f"  {v}", highlight=False, markup=False)
    for mm in report.mismatches:
        err.print(f"  {mm}", highlight=False, markup=False)
    raise typer.Exit(Exit.CHECK_FAILED)


_GLOBAL_FLAGS = {"-q", "--quiet", "-v", "-vv", "-vvv", "--verbose", "--debug"}


def _globals_first(argv: list[str]) -> list[str]:
    """Accept -q/-v/--debug anywhere (`optimizer solve x.yaml -q`), as planners type them.

    Typer wants global options before the subcommand; tokens that are the value of an
    option (`--set -v`) are left alone.
    """
    flags, rest = [], []
    for i, tok in enumerate(argv):
        prev = argv[i - 1] if i else ""
        takes_value = prev.startswith("-") and prev not in _GLOBAL_FLAGS and "=" not in prev and prev not in (
            "--serial", "--json", "--warm-start", "--cold-start", "--no-write", "--help", "--version")
        if tok in _GLOBAL_FLAGS and not takes_value:
            flags.append(tok)
        else:
            rest.append(tok)
    return flags + rest


def main() -> None:
    """Console-script entry: no traceback reaches a planner unless --debug is given."""
    debug = "--debug" in sys.argv
    try:
        rc = app(args=_globals_first(sys.argv[1:]), standalone_mode=False)
        sys.exit(rc if isinstance(rc, int) else 0)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except InputError as exc:
        try:
            _fail_input(exc)
        except typer.Exit as e2:
            sys.exit(e2.exit_code)
    except KeyboardInterrupt:
        err.print("[yellow]Aborted by the user; nothing was written.[/]")
        sys.exit(Exit.ABORTED)
    except typer.Abort:
        err.print("[yellow]Aborted.[/]")
        sys.exit(Exit.ABORTED)
    except typer.TyperException as exc:  # usage errors: unknown option, missing argument
        exc.show()  # type: ignore[attr-defined]
        sys.exit(getattr(exc, "exit_code", 2))
    except Exception as exc:
        if debug:
            raise
        err.print(f"[bold red]Internal error:[/] {type(exc).__name__}: {exc}")
        err.print("This is a bug in the optimiser. Rerun with --debug to see the traceback and report it.")
        sys.exit(Exit.INTERNAL)


# Commands that live beside their library code.
from optimizer.compare import register as _register_compare  # noqa: E402

_register_compare(app)
from optimizer.evaluate import register as _register_evaluate  # noqa: E402
from optimizer.gep import register as _register_gep  # noqa: E402

_register_gep(app)
_register_evaluate(app)
