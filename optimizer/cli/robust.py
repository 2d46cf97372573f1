"""`optimizer robust INSTANCE`: stability over samples, stress test, and a plan for all samples."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from optimizer.cli.common import Exit, err, exit_codes, fail_input, fit, fmt, money, names, out, state
from optimizer.errors import InputError, Location, Problem
from optimizer.i18n import _


def register(app: typer.Typer) -> None:
    app.command(epilog=exit_codes(Exit.OK, Exit.INTERNAL, Exit.INVALID_INPUT, Exit.INFEASIBLE, Exit.ABORTED))(robust)


def robust(
    instance: Annotated[Optional[Path], typer.Argument(help="Instance YAML file with an uncertainty: section (not needed with --resume).")] = None,
    samples: Annotated[Optional[int], typer.Option("--samples", help="Number of samples (default: the instance's uncertainty.samples).")] = None,
    sample_seed: Annotated[Optional[int], typer.Option("--sample-seed", help="Seed of the sampler (default: the instance's uncertainty.seed).")] = None,
    plan: Annotated[Optional[Path], typer.Option("--plan", help="Also stress-test this plan (a CSV with township_id,industry, or a run folder).")] = None,
    risk: Annotated[Optional[str], typer.Option("--risk", help="What the robust plan maximises: 'expected' (the mean over samples, the default) or 'cvar:ALPHA' (the mean of the worst ALPHA share, e.g. cvar:0.1). With --resume: solve the robust plan again for this measure, reusing the solved samples.")] = None,
    hold: Annotated[Optional[float], typer.Option("--hold", help="Share of samples in which every limit that depends on uncertain figures must hold for the robust plan (default 1: every sample; e.g. 0.9). With --resume: as for --risk.")] = None,
    no_robust: Annotated[bool, typer.Option("--no-robust-plan", help="Only stability and the stress test: do not solve the robust plan.")] = False,
    scenario: Annotated[Optional[str], typer.Option("--scenario", "-s", help="Scenarios applied first, comma-separated, as for solve.")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="A change applied before sampling (repeatable), as for solve.")] = None,
    time_limit: Annotated[Optional[float], typer.Option("--time-limit", help="HiGHS time limit of each solve (s).", min=0.01)] = None,
    gap: Annotated[Optional[float], typer.Option("--gap", help="Relative MIP gap of each solve. Default: exact (0) up to 200 townships, 1e-4 above.", min=0.0)] = None,
    threads: Annotated[int, typer.Option("--threads", help="HiGHS threads per solve.", min=1)] = 1,
    seed: Annotated[int, typer.Option("--seed", help="HiGHS random seed.")] = 20260101,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="Address of an existing Dask scheduler (tcp://host:8786); default: a local cluster.")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", help="Workers of the local cluster (default: one per core).", min=1)] = None,
    serial: Annotated[bool, typer.Option("--serial", help="Solve the samples in this process, without Dask.")] = False,
    resume: Annotated[Optional[Path], typer.Option("--resume", help="A robust folder to finish: reuses its samples, plans and finished samples.")] = None,
    results: Annotated[Path, typer.Option("--results", help="Folder for outputs.")] = Path("results"),
) -> None:
    """How stable is the plan when prices and yields move, what does it risk, and which plan holds up.

    Example: optimizer robust instances/karst3/karst3.yaml --samples 100

    Writes results/<instance>/robust-<id>/: stability.csv and stability.gpkg (per township, the share of samples whose optimum gives it each industry), stress.csv and stress_summary.csv (each plan in every sample), limit_risk.csv, comparison.csv (nominal and robust plan side by side), nominal/, robust_plan/, samples/ (one run folder per sample), samples.csv and manifest.json.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from optimizer.analyses.robust import (
        NominalInfeasible,
        RobustSpec,
        check_hold,
        new_robust_dir,
        parse_risk,
        run_robust,
    )
    from optimizer.instance.load import load_instance

    try:
        if resume is not None:
            if not (resume / "robust.json").exists():
                raise InputError([Problem(Location(resume), _("not a robust folder (no robust.json)"),
                                          _("give the folder `optimizer robust` printed, results/<instance>/robust-<id>"))])
            saved = json.loads((resume / "robust.json").read_text(encoding="utf-8"))["spec"]
            spec = RobustSpec(**saved)
            if risk is not None:
                parse_risk(risk)
                spec.risk = risk
            if hold is not None:
                check_hold(hold)
                spec.hold = hold
            folder = resume
            err.print(_("Resuming {folder}.").format(folder=escape(str(folder))))
        else:
            if instance is None:
                raise InputError([Problem(Location(Path("command line")), _("give an INSTANCE (or --resume FOLDER)"))])
            risk = "expected" if risk is None else risk
            hold = 1.0 if hold is None else hold
            problems = []
            if samples is not None and samples < 1:
                problems.append(Problem(Location(Path("command line")), _("--samples {n}: give at least 1 sample").format(n=samples)))
            for check in (lambda: parse_risk(risk), lambda: check_hold(hold)):
                try:
                    check()
                except InputError as exc:
                    problems.extend(exc.problems)
            if problems:  # every bad option at once
                raise InputError(problems)
            spec = RobustSpec(
                instance=str(instance.resolve()), scenarios=names(scenario), sets=set_ or [],
                options={"time_limit": time_limit, "gap": gap, "threads": threads, "seed": seed},
                samples=samples, sample_seed=sample_seed, risk=risk, hold=hold,
                plan=str(plan.resolve()) if plan else None, robust=not no_robust,
            )
            loaded = load_instance(instance, scenarios=spec.scenarios, sets=spec.sets)
            folder = new_robust_dir(results, loaded.spec.name)
    except InputError as exc:
        fail_input(exc)
        return
    n_samples = spec.samples
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn(_("{task.fields[failed]} failed")), TimeElapsedColumn(), console=err,
                  disable=state["quiet"]) as bar:
        task = bar.add_task(_("preparing"), total=n_samples, failed=0)

        def progress(done: int, failed: int, total: int) -> None:
            bar.update(task, completed=done, total=total, failed=failed, description=_("samples"))

        def phase(name: str) -> None:
            bar.update(task, description=name)

        try:
            result = run_robust(spec, folder, scheduler=scheduler, workers=workers, serial=serial,
                                progress=progress, phase=phase)
        except InputError as exc:
            bar.stop()
            fail_input(exc)
            return
        except NominalInfeasible as exc:
            bar.stop()
            err.print(_("[bold red]The instance as written has no feasible plan ({status}); limits in conflict: "
                        "{conflict}.[/] Nothing to stress-test.").format(status=exc.status, conflict=escape(exc.conflict or "?")))
            raise typer.Exit(Exit.INFEASIBLE) from None
        except KeyboardInterrupt:
            bar.stop()
            err.print(_("[yellow]Interrupted: finished samples are kept.[/] Finish with: optimizer robust --resume {folder}").format(
                folder=escape(str(folder))))
            raise typer.Exit(Exit.ABORTED) from None
    print_result(result)
    if result.failed:
        err.print(_("[yellow]{n} sample(s) failed; see samples/*.failed.json, fix the cause, then optimizer robust --resume {folder}[/]").format(
            n=result.failed, folder=escape(str(folder))))
        raise typer.Exit(Exit.INTERNAL)


def _money(x: Any) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else fmt(float(x))


def print_result(result: Any) -> None:
    """Stability in a few lines, the plans side by side, the limits at risk, the folder."""
    s = result.summary
    stab = result.stability
    by_status = s["samples_by_status"]
    out.print(_("[bold]{inst}[/]: {n} samples of {p} uncertain figures (seed {seed}); optimum found in {ok}, "
                "no feasible plan in {inf}, failed {failed}.").format(
        inst=escape(s["instance"]), n=s["samples"], p=len(s["parameters"]), seed=s["sample_seed"],
        ok=sum(v for k, v in by_status.items() if k not in ("infeasible", "failed")),
        inf=by_status.get("infeasible", 0), failed=by_status.get("failed", 0)), highlight=False)
    if len(stab) and stab["samples_solved"].iloc[0] > 0:
        always = int((stab["stability"] >= 1 - 1e-12).sum())
        villages = "village_id" in stab.columns  # a village instance: one product per village
        text = (_("Stability: {a} of {t} villages take the same product in every sample's optimum; "
                  "{c} take their most frequent product in at most half of them.") if villages else
                _("Stability: {a} of {t} townships take the same industry in every sample's optimum; "
                  "{c} take their most frequent industry in at most half of them."))
        out.print(text.format(a=always, t=len(stab), c=int((stab["stability"] <= 0.5).sum())), highlight=False)
        shaky = stab.sort_values("stability", kind="stable").head(8)
        shaky = shaky[shaky["stability"] < 1 - 1e-12]
        if len(shaky):
            table = Table(title=_("least stable villages") if villages else _("least stable townships"),
                          header_style="bold")
            for col in (_("village") if villages else _("township"), _("nominal"), _("most frequent"), _("stability"),
                        _("shares")):
                table.add_column(col)
            share_cols = [c for c in stab.columns if c.startswith("share_")]
            for r in shaky.itertuples(index=False):
                shares = ", ".join(f"{c[6:]} {getattr(r, c):.0%}" for c in share_cols if getattr(r, c) > 0)
                table.add_row(f"{getattr(r, 'village_id', r.township_id)} {r.name}", r.nominal_industry,
                              r.most_frequent_industry,
                              f"{r.stability:.0%}", shares)
            out.print(fit(table))
    comp = result.comparison
    plan_cols = [c for c in ("nominal", "plan", "robust", "robust_minus_nominal") if c in comp.columns]
    table = Table(title=_("plans over the samples"), header_style="bold")
    table.add_column(_("figure"))
    table.add_column(_("unit"))
    for c in plan_cols:
        table.add_column({"nominal": _("nominal plan"), "plan": _("--plan"), "robust": _("robust plan"),
                          "robust_minus_nominal": _("robust − nominal")}[c], justify="right")
    is_money = comp["unit"].astype(str).str.startswith("yuan")
    in_unit = money(*comp.loc[is_money, plan_cols].to_numpy(dtype=float).ravel().tolist())  # one unit (--units)
    for r, yuan in zip(comp.itertuples(index=False), is_money.tolist()):
        cells = []
        for c in plan_cols:
            v = getattr(r, c)
            if yuan:
                cells.append("—" if v is None or v != v else in_unit(v))
            else:
                cells.append(f"{v:.0%}" if v == v else "—")
        table.add_row(r.description, in_unit.unit if yuan else "%" if r.unit == "share" else _(str(r.unit)), *cells)
    out.print(fit(table))
    risk = result.limit_risk
    words = {"nominal": _("The nominal plan"), "plan": _("The --plan"), "robust": _("The robust plan")}
    for name in [c for c in ("nominal", "plan", "robust") if c in plan_cols]:
        rows = risk[risk["plan"] == name].head(6)
        if not len(rows):
            out.print(_("{plan} keeps every limit in every sample.").format(plan=words[name]), highlight=False)
            continue
        more = int((risk["plan"] == name).sum()) - len(rows)
        out.print(_("{plan} breaks limits in some samples (probability, worst case){more}:").format(
            plan=words[name], more=_(", the first 6 of {n}").format(n=len(rows) + more) if more else ""),
            highlight=False)
        for r in rows.itertuples(index=False):
            out.print(f"  {r.probability:.0%}  {r.worst_message}", highlight=False, markup=False)
    d = result.differing
    if len(d):
        differ = (_("The robust plan differs from the nominal one in {n} village(s):") if "village_id" in d.columns
                  else _("The robust plan differs from the nominal one in {n} township(s):"))
        out.print(differ.format(n=len(d)), highlight=False)
        for r in d.head(15).itertuples(index=False):
            out.print(_("  {id} {name} ({county}): {a} → {b} (wins {sa:.0%} → {sb:.0%} of the samples)").format(
                id=getattr(r, "village_id", None) or r.township_id, name=r.name, county=r.county,
                a=r.nominal_industry, b=r.robust_industry,
                sa=r.share_nominal_industry, sb=r.share_robust_industry), highlight=False, markup=False)
    rp = s.get("robust_plan") or {}
    if rp and rp.get("status") and not rp.get("nominal_objective_yuan"):
        out.print(_("No robust plan: {why}").format(why=rp.get("reason") or rp.get("status")), highlight=False)
    elif rp.get("nominal_objective_yuan") is not None:
        measure = (_("expected objective") if rp["risk"][0] == "expected"
                   else _("CVaR {a:g} of the objective").format(a=rp["risk"][1]))
        held = (_("every limit in every sample") if rp["hold"] >= 1
                else _("every limit in at least {n} of the {s} samples").format(n=rp["samples_required"], s=s["samples"]))
        out.print(_("Robust plan: maximises the {m} over the samples ({v} yuan/yr, {st}), keeping {h} and every limit "
                    "of the instance as written (independent check: {ok}).").format(
            m=measure, v=_money(rp.get("sample_objective_yuan")), st=rp["status"], h=held,
            ok=_("passed") if rp.get("check_ok") else _("FAILED")), highlight=False)
    for n in s.get("notes", []):
        out.print(_("Note: {note}").format(note=n), highlight=False, markup=False)
    out.print(_("Folder: [bold]{folder}[/] (stability.gpkg, stability.csv, stress_summary.csv, limit_risk.csv, "
                "comparison.csv, robust_plan/, samples/)").format(folder=escape(str(result.folder))))
    out.print(escape(_("For the meeting: optimizer report {folder} writes its report.html.").format(folder=result.folder)),
              highlight=False)
