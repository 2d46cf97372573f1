"""Drawing samples of an instance's uncertain figures, and the sampled instances themselves.

A sample is the instance with every uncertain figure fixed at one drawn number; it is
written as the `--set` changes that make it (`industries.apple.price_yuan_per_unit=0.73*`,
`site_coefficients.price_yuan_per_unit.apple=0.73*`, …), so any sample can be solved,
checked and repeated on its own with `optimizer solve --set …`, and its resolved instance
is what the independent checker judges a plan against.

How the numbers are drawn (docs/uncertainty.md): a Gaussian copula. For S samples and P
parameters, numpy's PCG64 generator seeded with `uncertainty.seed` draws an S × P matrix
of independent standard normals; each correlation group's coefficient ρ fills its pairs
of a P × P correlation matrix R, and the normals are multiplied by a square root of R
(from its eigen-decomposition, so ρ = 1 works). Each column is then mapped to its own
distribution through Φ (the normal distribution function) and that distribution's
inverse distribution function. Correlations are therefore those of the normal scores:
for continuous distributions close to the correlation of the figures themselves, for
discrete scenarios a rank correlation. The same seed, sample count and section give the
same numbers (recorded in samples.csv and the manifest with numpy's version).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from optimizer.errors import InputError, Location, Problem
from optimizer.i18n import _
from optimizer.instance.load import LoadedInstance
from optimizer.instance.overrides import apply_one, apply_to_site, apply_to_table, parse_set
from optimizer.instance.schema import Instance, UncertainParameter, Uncertainty
from optimizer.instance.uncertainty import implied_site_paths
from optimizer.instance.validate import ValidInstance

log = logging.getLogger(__name__)

_STD = NormalDist()
#: The first change of every sample: a sample is a concrete instance, with no uncertainty left.
NO_UNCERTAINTY = "uncertainty=null"


@dataclass
class Samples:
    """Drawn numbers, one row per sample, one column per parameter (factors or values)."""

    names: list[str]
    relative: list[bool]
    values: np.ndarray  # shape (S, P)
    seed: int

    @property
    def count(self) -> int:
        return int(self.values.shape[0])

    @property
    def ids(self) -> list[str]:
        width = max(3, len(str(self.count)))
        return [f"s{k + 1:0{width}d}" for k in range(self.count)]

    def table(self) -> pd.DataFrame:
        """samples.csv: sample id, then each parameter's drawn number (full precision)."""
        df = pd.DataFrame(self.values, columns=self.names)
        df.insert(0, "sample", self.ids)
        return df


def normal_cdf(z: np.ndarray) -> np.ndarray:
    """Φ(z), elementwise (numpy has no erf; math.erfc keeps the tails accurate)."""
    return np.vectorize(lambda v: 0.5 * math.erfc(-v / math.sqrt(2.0)), otypes=[float])(z)


def normal_ppf(u: np.ndarray) -> np.ndarray:
    """Φ⁻¹(u), elementwise, for 0 < u < 1 (clipped a hair inside)."""
    u = np.clip(u, 1e-300, 1.0 - 1e-16)
    return np.vectorize(_STD.inv_cdf, otypes=[float])(u)


def marginal(p: UncertainParameter, z: np.ndarray) -> np.ndarray:
    """Numbers of `p`'s distribution from standard-normal scores `z` (its inverse CDF at Φ(z))."""
    d = p.distribution
    if d == "normal" and p.low is None and p.high is None:
        return float(p.mean) + float(p.sd) * z  # type: ignore[arg-type]
    if d == "lognormal":
        mean, sd = float(p.mean), float(p.sd)  # type: ignore[arg-type]
        s2 = math.log1p((sd / mean) ** 2)
        return np.exp(math.log(mean) - s2 / 2 + math.sqrt(s2) * z)
    u = normal_cdf(z)
    if d == "uniform":
        lo, hi = float(p.low), float(p.high)  # type: ignore[arg-type]
        return lo + u * (hi - lo)
    if d == "triangular":
        lo, mo, hi = float(p.low), float(p.mode), float(p.high)  # type: ignore[arg-type]
        c = (mo - lo) / (hi - lo)
        left = lo + np.sqrt(u * (hi - lo) * (mo - lo))
        right = hi - np.sqrt((1.0 - u) * (hi - lo) * (hi - mo))
        return np.where(u < c, left, right)
    if d == "normal":  # truncated at low and/or high
        mean, sd = float(p.mean), float(p.sd)  # type: ignore[arg-type]
        a = 0.0 if p.low is None else _STD.cdf((p.low - mean) / sd)
        b = 1.0 if p.high is None else _STD.cdf((p.high - mean) / sd)
        x = mean + sd * normal_ppf(a + u * (b - a))
        return np.clip(x, -np.inf if p.low is None else p.low, np.inf if p.high is None else p.high)
    # discrete: the first scenario whose cumulative probability reaches u
    values = np.asarray(p.values, dtype=float)
    cum = np.cumsum(np.asarray(p.probabilities, dtype=float))
    k = np.minimum(np.searchsorted(cum, u, side="left"), len(values) - 1)
    return values[k]


def correlation_matrix(unc: Uncertainty) -> np.ndarray:
    """R: 1 on the diagonal, each group's coefficient between its members, 0 elsewhere."""
    names = list(unc.parameters)
    pos = {n: k for k, n in enumerate(names)}
    r = np.eye(len(names))
    for group in unc.correlations:
        members = [pos[n] for n in dict.fromkeys(group.parameters)]
        for i in members:
            for j in members:
                if i != j:
                    r[i, j] = group.coefficient
    return r


def draw_samples(unc: Uncertainty, samples: int | None = None, seed: int | None = None) -> Samples:
    """Draw the samples of an (already validated) uncertainty section; see the module docstring."""
    count = unc.samples if samples is None else samples
    seed = unc.seed if seed is None else seed
    names = list(unc.parameters)
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((count, len(names)))
    if unc.correlations:
        w, v = np.linalg.eigh(correlation_matrix(unc))
        root = v * np.sqrt(np.clip(w, 0.0, None))
        z = z @ root.T
    values = np.column_stack([marginal(unc.parameters[n], z[:, k]) for k, n in enumerate(names)]) if names else z
    log.info("drew %d samples of %d uncertain parameters (seed %d)", count, len(names), seed)
    return Samples(names=names, relative=[unc.parameters[n].relative for n in names], values=values, seed=seed)


def sample_sets(loaded: LoadedInstance, samples: Samples) -> list[list[str]]:
    """The `--set` changes that make each sample, in order (after the run's own)."""
    unc = loaded.spec.uncertainty
    assert unc is not None
    per_param: list[list[str]] = []
    for name in samples.names:
        p = unc.parameters[name]
        paths = list(p.targets)
        if p.relative:
            paths += [extra for path in p.targets for extra in implied_site_paths(path, loaded.site)]
        per_param.append(paths)
    out = []
    for row in samples.values:
        sets = [NO_UNCERTAINTY]
        for paths, value, rel in zip(per_param, row, samples.relative):
            text = repr(float(value)) + ("*" if rel else "")
            sets.extend(f"{path}={text}" for path in paths)
        out.append(sets)
    return out


def resolve_sample(base: LoadedInstance, sets: list[str]) -> LoadedInstance:
    """The instance with `sets` applied, in memory (no file is read again).

    Gives the same instance as `load_instance(file, scenarios, [*run_sets, *sets])`: a
    change applies to the YAML, the township table or the site table as `load_instance`
    routes it, each domain in order (tested).
    """
    data = copy.deepcopy(base.raw)
    townships = base.townships.copy()
    site = None if base.site is None else base.site.copy()
    applied = list(base.applied_overrides)
    problems: list[Problem] = []
    origin = Location(Path("uncertainty"))
    for expr in sets:
        ov = parse_set(expr, origin)
        if isinstance(ov, Problem):
            problems.append(ov)
            continue
        if len(ov.path) >= 2 and ov.path[0] == "townships" and ov.path[1] not in ("path", "layer"):
            done, problem = apply_to_table(townships, ov)
        elif len(ov.path) >= 2 and ov.path[0] == "site_coefficients" and ov.path[1] not in ("path", "layer"):
            if site is None:
                done, problem = None, Problem(origin, _("the instance has no site-coefficient table"), path=ov.dotted)
            else:
                done, problem = apply_to_site(site, ov)
        else:
            done, problem = apply_one(data, ov)
        if problem is not None:
            problems.append(problem)
        else:
            applied.append(done)
    if problems:
        raise InputError(problems)
    try:
        spec = Instance.model_validate(data)
    except ValidationError as exc:
        raise InputError([Problem(origin, _("a sampled value is refused by the schema: {error}").format(
            error=str(exc).splitlines()[0]))]) from None
    return dataclasses.replace(base, spec=spec, raw=data, townships=townships, site=site, applied_overrides=applied)


def valid_without_feasibility(loaded: LoadedInstance, base: ValidInstance | None = None) -> ValidInstance:
    """A sampled instance's typed tables and pair coefficients, without validation's proofs
    of infeasibility: a plan is scored in every sample, even one in which no plan keeps
    every limit (that is an answer of the stress test, not an input error).

    With `base` (the instance the sample was made from), only what the sample changed is
    recomputed: the township table is typed again only if a sample changed it, and the
    pair coefficients only of the industries whose figures or site rows changed (the
    rest are the base's). The result equals computing everything again (tested); the
    robust plan prepares every sample, so this is its largest cost.
    """
    from optimizer.instance.coefficients import baseline, pair_table
    from optimizer.instance.validate import typed_townships, validate

    if loaded.village_tables is not None:
        # a village instance: the whole validation, which records the limits no plan can meet
        # (`conflicts`) instead of refusing the sample
        return validate(loaded)
    problems: list[Problem] = []
    same_towns = base is not None and loaded.townships.equals(base.loaded.townships)
    t = base.townships if same_towns else typed_townships(loaded, problems)  # type: ignore[union-attr]
    if problems:
        raise InputError(problems)
    if base is None or not same_towns:
        pairs = pair_table(loaded.spec, t, loaded.site)
    else:
        changed = [i for i, ind in loaded.spec.industries.items()
                   if ind != base.spec.industries.get(i) or not _same_site_rows(loaded.site, base.loaded.site, i)]
        pairs = base.pairs
        if changed:
            sub = pair_table(loaded.spec.model_copy(update={"industries": {i: loaded.spec.industries[i] for i in changed}}),
                             t, loaded.site)
            pairs = pairs.copy()
            pairs.loc[sub.index, sub.columns] = sub
    return ValidInstance(loaded=loaded, townships=t, pairs=pairs, baseline=baseline(pairs, t))


def _same_site_rows(a: pd.DataFrame | None, b: pd.DataFrame | None, industry: str) -> bool:
    if a is None or b is None:
        return a is None and b is None
    ra = a[a["industry"].astype(str).str.strip() == industry]
    rb = b[b["industry"].astype(str).str.strip() == industry]
    return ra.equals(rb)


def describe(unc: Uncertainty) -> list[dict[str, Any]]:
    """The section as rows for reports: name, paths, distribution and its numbers."""
    rows = []
    for name, p in unc.parameters.items():
        keys = ("low", "mode", "high", "mean", "sd")
        numbers = {k: getattr(p, k) for k in keys if getattr(p, k) is not None}
        if p.distribution == "discrete":
            numbers = {"values": list(p.values), "probabilities": list(p.probabilities)}
        rows.append({"parameter": name, "paths": list(p.targets), "relative": p.relative,
                     "distribution": p.distribution, **numbers, "source": p.source, "estimate": p.estimate})
    return rows
