"""`optimizer value INSTANCE`: what one more (or one less) unit of every coupling limit is worth."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape

from optimizer.cli.common import Exit, err, exit_codes, fail_input, fit, names, out, print_infeasible, state
from optimizer.errors import InfeasibleInstance, InputError
from optimizer.outputs.value_words import amount_text as _amount
from optimizer.outputs.value_words import limit_label
from optimizer.outputs.value_words import per_unit_text as _per
from optimizer.i18n import _


def register(app: typer.Typer) -> None:
    app.command(epilog=exit_codes(Exit.OK, Exit.INTERNAL, Exit.INVALID_INPUT, Exit.INFEASIBLE, Exit.NO_SOLUTION,
                                  Exit.CHECK_FAILED, Exit.STOPPED_WITH_PLAN, Exit.ABORTED))(value)


def value(
    instance: Annotated[Path, typer.Argument(help="Instance YAML file.")],
    limit: Annotated[Optional[list[str]], typer.Option("--limit", help="Only these limits (repeatable): a full name such as 'water_use_per_county_max[昭阳区]', a family, or water, grid, market, budget, conservation, income_floor.")] = None,
    step: Annotated[Optional[list[str]], typer.Option("--step", help="How far to move each limit (repeatable): 5% (default, every limit), water=10%, budget=100000000 (an amount in the limit's unit), 'pv_capacity_per_county_max[关岭布依族苗族自治县]=20'.")] = None,
    scenario: Annotated[Optional[str], typer.Option("--scenario", "-s", help="Scenarios or named overrides to apply first, comma-separated, as for solve.")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Change one value by its path (repeatable), as for solve.")] = None,
    time_limit: Annotated[Optional[float], typer.Option("--time-limit", help="HiGHS time limit per re-solve (s).", min=0.01)] = None,
    gap: Annotated[float, typer.Option("--gap", help="Relative MIP gap of every solve.", min=0.0)] = 1e-4,
    threads: Annotated[int, typer.Option("--threads", help="HiGHS threads per solve.", min=1)] = 1,
    seed: Annotated[int, typer.Option("--seed", help="HiGHS random seed.")] = 20260101,
    warm_start: Annotated[bool, typer.Option("--warm-start/--cold-start", help="Start each re-solve from the base solve: HiGHS from its plan (repaired where the moved limit breaks it), the county decomposition from its multipliers and county plans. Off by default: see docs/performance.md.")] = False,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="Address of an existing Dask scheduler (tcp://host:8786); default: a local cluster.")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", help="Workers of the local cluster (default: one per core).", min=1)] = None,
    serial: Annotated[bool, typer.Option("--serial", help="Run in this process without Dask.")] = False,
    results: Annotated[Path, typer.Option("--results", help="Folder for outputs: <results>/<instance>/value-<id>/.")] = Path("results"),
) -> None:
    """What each limit is worth: every coupling limit relaxed and tightened by a step, the MILP re-solved.

    Reports Δ objective, Δ income and Δ GEP per unit of the limit (yuan/yr per m³, per MWp,
    per t, per yuan of budget, per ha of required conservation, per yuan of income floors),
    says "below the solver's resolution" where the gaps are wider than the difference,
    shows the LP prices beside it, and which townships switch.

    Example: optimizer value instances/karst3/karst3.yaml --limit water --step water=10%
    Writes results/<instance>/value-<id>/: values.csv, value_switches.csv, resolves/<run>/.
    """
    from optimizer.analyses.value import NoBasePlan, ValueSpec, new_value_dir, prepare_value, run_value

    spec = ValueSpec(instance=str(instance.resolve()), scenarios=names(scenario), sets=set_ or [],
                     limits=limit or [], steps=step or [], warm_start=warm_start,
                     options={"time_limit": time_limit, "gap": gap, "threads": threads, "seed": seed})  # fmt: skip
    try:
        valid, limits, todo = prepare_value(spec)
    except InputError as exc:
        fail_input(exc)
        return
    except InfeasibleInstance as exc:
        print_infeasible({"conflicts": [{"where": str(p.location), "text": p.message} for p in exc.conflicts]})
        raise typer.Exit(Exit.INFEASIBLE) from None
    if not limits:
        out.print(escape(_("The instance has no coupling limit to value (no county or basin water, grid, market cap, "
                           "budget, conservation share or income floor).")))
        return
    folder = new_value_dir(results, valid.spec.name)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("[bold]" + escape(_("value"))), BarColumn(), MofNCompleteColumn(),
                  TextColumn(escape(_("{failed} failed")).replace("{failed}", "{task.fields[failed]}")),
                  TimeElapsedColumn(), console=err, disable=state["quiet"]) as bar:  # fmt: skip
        task = bar.add_task("solves", total=len(todo) + 1, failed=0)
        try:
            res = run_value(spec, folder, scheduler=scheduler, workers=workers, serial=serial,
                            progress=lambda d, f, n: bar.update(task, completed=d, failed=f))  # fmt: skip
        except InfeasibleInstance as exc:
            bar.stop()
            print_infeasible({"conflicts": [{"where": str(p.location), "text": p.message} for p in exc.conflicts]})
            raise typer.Exit(Exit.INFEASIBLE) from None
        except NoBasePlan as exc:
            bar.stop()
            if exc.status == "failed":  # the base solve itself broke: a bug or a broken environment
                err.print("[bold red]" + escape(_("The base solve failed: {error}").format(error=exc.detail)) + "[/] "
                          + escape(_("Nothing was valued; the partial folder is {folder}.").format(folder=folder)))
                raise typer.Exit(Exit.INTERNAL) from None
            how = (_("at the time limit") if exc.status.startswith("time_limit")
                   else _("by an interrupt") if exc.status.startswith("interrupted") else exc.status)
            err.print("[bold red]" + escape(_("The base solve stopped {how} before HiGHS found any plan: "
                                              "there is nothing to value against.").format(how=how)) + "[/] "
                      + escape(_("Give it more time (--time-limit) or a looser --gap.")))
            raise typer.Exit(Exit.NO_SOLUTION) from None
        except KeyboardInterrupt:
            bar.stop()
            err.print("[yellow]" + escape(_("Interrupted: the finished re-solves are in {folder}.").format(folder=folder))
                      + "[/]")
            raise typer.Exit(Exit.ABORTED) from None
    print_values(res)
    t = res.table
    statuses = [c for c in ("relax_status", "tighten_status") if c in t]
    failed = sum(int((t[c] == "failed").sum()) for c in statuses)
    if failed:
        err.print("[yellow]" + escape(_("{n} re-solve(s) failed; see values.csv (columns *_note).").format(n=failed)) + "[/]")
        raise typer.Exit(Exit.INTERNAL)
    checks = [c for c in ("relax_check_ok", "tighten_check_ok") if c in t]
    if any((t[c] == False).any() for c in checks) or res.base.get("check_ok") is False:  # noqa: E712
        err.print("[bold red]" + escape(_("The independent checker disagrees with at least one re-solve's plan.")) + "[/]")
        raise typer.Exit(Exit.CHECK_FAILED)
    stopped = [s for c in statuses for s in t[c] if s in ("time_limit_feasible", "interrupted_feasible")]
    if stopped or res.base.get("status") != "optimal":
        err.print("[yellow]" + escape(_("{n} solve(s) stopped at the time limit with a plan not proven within the gap; "
                                        "their differences carry the wider resolution.").format(
            n=len(stopped) + (res.base.get("status") != "optimal"))) + "[/]")
        raise typer.Exit(Exit.STOPPED_WITH_PLAN)


def _num(x: Any, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:,.{digits}f}"


def _delta(r: dict[str, Any], d: str) -> str:
    """Δ objective of a move and its value per unit, or why there is no number."""
    status = r.get(f"{d}_status")
    dz = r.get(f"{d}_delta_objective_yuan")
    if status is None:
        return "—"
    if dz is None or (isinstance(dz, float) and math.isnan(dz)):
        return _(str(status))
    if not r.get(f"{d}_resolved"):
        return _("below the solver's resolution (±{w})").format(w=_num(r.get(f"{d}_resolution_yuan")))
    per = r.get(f"{d}_value_per_unit")
    return f"{_num(dz)}\n{_per(per)}/{r['per']}"


def print_values(res: Any) -> None:
    """The ranked table, the townships that switch, the folder."""
    from rich.table import Table

    t = res.table
    base = res.base
    out.print(escape(_("Base plan: objective {z} yuan/yr (gap {g}), farmers' income {i}, GEP {gep} yuan/yr.").format(
        z=_num(base.get("plan_objective_yuan")), g=f"{(base.get('gap') or 0):.4%}",
        i=_num(base.get("farmer_income_yuan")), gep=_num(base.get("gep_objective_yuan")))), highlight=False)
    table = Table(title=_("What each limit is worth (yuan/yr; per unit of the limit)"), header_style="bold")
    cols = [(_("#"), "right"), (_("limit: now ± step"), "left"), (_("relaxed: gain, per unit"), "right"),
            (_("tightened: cost, per unit"), "right"), (_("LP price: plan fixed, split"), "right"),
            (_("villages switching") if "village_id" in res.switches.columns else _("townships switching"),
             "right")]  # fmt: skip
    for c, just in cols:
        table.add_column(c, justify=just)
    for r in t.to_dict(orient="records"):
        floor = r["group"] == "income_floor"
        shown = _("the floors") if floor else _amount(r["value"], r["unit"])
        step = r.get("relax_step")
        step_text = "" if step is None or (isinstance(step, float) and math.isnan(step)) else (
            f"\n±{abs(step):.0%}" if floor else "\n±" + _amount(abs(step), r["unit"]))
        lp = f"{_per(r.get('lp_price_plan_fixed'))}\n{_per(r.get('lp_price_relaxation'))}"
        sw = f"{_num(r.get('relax_townships_switching'))} / {_num(r.get('tighten_townships_switching'))}"
        table.add_row(str(r["rank"]), escape(f"{limit_label(r['limit'], r['family'], chr(10))}\n{shown}{step_text}"),
                      _delta(r, "relax"), _delta(r, "tighten"), lp, sw)
    out.print(fit(table))
    sw = res.switches
    if len(sw):
        head = (_("Villages that switch product when a limit moves (value_switches.csv):") if "village_id" in sw.columns
                else _("Townships that switch industry when a limit moves (value_switches.csv):"))
        out.print(escape(head), highlight=False)
        family = dict(zip(t["limit"], t["family"]))
        for (lim, d), g in sw.groupby(["limit", "direction"], sort=False):
            items = ", ".join(f"{r['name']} {r['from']}→{r['to']}" for _i, r in g.head(6).iterrows())
            more = _(" and {n} more").format(n=len(g) - 6) if len(g) > 6 else ""
            label = limit_label(lim, family[lim]) if lim in family else lim
            out.print(f"  {escape(label)} ({escape(_(d))}): {escape(items)}{escape(more)}", highlight=False)
    for note in res.notes:
        out.print(escape(note), highlight=False)
    out.print(_("Values: [bold]{folder}[/] (values.csv, value_switches.csv, resolves/)").format(
        folder=escape(str(res.folder))))
    out.print(escape(_("For the meeting: optimizer report {folder} writes its report.html.").format(folder=res.folder)),
              highlight=False)
