"""The compiled county search (numba): see counties.py for what it solves and why.

Compiled once per machine into numba's cache beside this file; no Python objects inside.
"""

from __future__ import annotations

import numpy as np
from numba import njit

@njit(cache=True, nogil=True)
def _county_mu(lo, hi, t_start, v, a, b, mu, iters):
    m = a.shape[1]
    n_t = hi - lo
    best_mu = mu.copy()
    best_g = 1e300
    scale = np.zeros(m)
    for i in range(m):
        s = 0.0
        for j in range(t_start[lo], t_start[hi]):
            s += abs(a[j, i])
        scale[i] = s / max(1, t_start[hi] - t_start[lo])
    vs = 0.0
    for j in range(t_start[lo], t_start[hi]):
        vs += abs(v[j])
    vs /= max(1, t_start[hi] - t_start[lo])
    sub = np.zeros(m)
    for it in range(iters):
        g = 0.0
        for i in range(m):
            if b[i] < 1e299:
                g += mu[i] * b[i]
                sub[i] = b[i]
            else:
                sub[i] = 0.0
        for t in range(lo, hi):
            bw = -1e300
            bj = -1
            for j in range(t_start[t], t_start[t + 1]):
                w = v[j]
                for i in range(m):
                    w -= mu[i] * a[j, i]
                if w > bw:
                    bw = w
                    bj = j
            g += bw
            for i in range(m):
                if b[i] < 1e299:
                    sub[i] -= a[bj, i]
        if g < best_g:
            best_g = g
            best_mu[:] = mu
        step = 1.0 / (1.0 + it) ** 0.6
        for i in range(m):
            if b[i] < 1e299 and scale[i] > 0:
                # sub in row units; normalise by the county's typical row use
                mu[i] = max(0.0, mu[i] - step * (vs / scale[i]) * sub[i] / (scale[i] * n_t) * 0.5)
            else:
                mu[i] = 0.0
    return best_mu, best_g


@njit(cache=True, nogil=True)
def _county_bb(lo, hi, t_start, v, a, b, mu, node_limit, choice_out, tol, start):
    """Returns (best value, status 0 optimal / 1 node limit / 2 infeasible, nodes).

    `start` (a choice per township, −1 when none) is a plan to beat: when it meets the
    county's rows it is the first incumbent, so the search prunes from its first node.
    Why: between pricing passes the prices move little and the last optimum is usually
    still optimal or close; starting from nothing, the search spent most of its nodes
    finding a plan that good."""
    m = a.shape[1]
    T = hi - lo
    # priced values and ordering of choices per township (descending priced value)
    n_ch = t_start[hi] - t_start[lo]
    w = np.empty(n_ch)
    base = t_start[lo]
    for j in range(t_start[lo], t_start[hi]):
        x = v[j]
        for i in range(m):
            x -= mu[i] * a[j, i]
        w[j - base] = x
    order = np.empty(n_ch, dtype=np.int64)
    best_w = np.empty(T)
    min_a = np.empty((T, m))
    for d in range(T):
        t = lo + d
        s0, s1 = t_start[t] - base, t_start[t + 1] - base
        idx = np.argsort(-w[s0:s1])
        bw = -1e300
        for k in range(s1 - s0):
            order[s0 + k] = s0 + idx[k]
            if w[s0 + idx[k]] > bw:
                bw = w[s0 + idx[k]]
        best_w[d] = bw
        for i in range(m):
            mn = 1e300
            for j in range(s0, s1):
                if a[base + j, i] < mn:
                    mn = a[base + j, i]
            min_a[d, i] = mn
    sufW = np.zeros(T + 1)
    sufA = np.zeros((T + 1, m))
    for d in range(T - 1, -1, -1):
        sufW[d] = sufW[d + 1] + best_w[d]
        for i in range(m):
            sufA[d, i] = sufA[d + 1, i] + min_a[d, i]
    mub = 0.0
    for i in range(m):
        if b[i] < 1e299:
            mub += mu[i] * b[i]
    slack_tol = np.empty(m)
    for i in range(m):
        slack_tol[i] = tol * max(1.0, abs(b[i])) if b[i] < 1e299 else 0.0
    # root feasibility
    for i in range(m):
        if sufA[0, i] > b[i] + slack_tol[i]:
            return -1e300, 2, 0
    best = -1e300
    found = False
    if start[lo] >= 0:
        sv = 0.0
        sa = np.zeros(m)
        ok0 = True
        for d in range(T):
            j = start[lo + d]
            if j < t_start[lo + d] or j >= t_start[lo + d + 1]:
                ok0 = False
                break
            sv += v[j]
            for i in range(m):
                sa[i] += a[j, i]
        if ok0:
            for i in range(m):
                if sa[i] > b[i] + slack_tol[i]:
                    ok0 = False
        if ok0:
            best = sv
            found = True
            for d in range(T):
                choice_out[lo + d] = start[lo + d]
    pos = np.zeros(T, dtype=np.int64)  # next position to try at depth d
    Vd = np.zeros(T + 1)
    Ad = np.zeros((T + 1, m))
    cur = np.zeros(T, dtype=np.int64)
    d = 0
    pos[0] = 0
    nodes = 0
    status = 0
    while d >= 0:
        t = lo + d
        s0, s1 = t_start[t] - base, t_start[t + 1] - base
        if pos[d] >= s1 - s0:
            d -= 1
            continue
        j = order[s0 + pos[d]]
        pos[d] += 1
        nodes += 1
        if nodes > node_limit:
            status = 1
            break
        V = Vd[d] + v[base + j]
        ok = True
        ub = V + mub + sufW[d + 1]
        for i in range(m):
            A = Ad[d, i] + a[base + j, i]
            if A + sufA[d + 1, i] > b[i] + slack_tol[i]:
                ok = False
                break
            ub -= mu[i] * A
        if not ok:
            continue
        if ub <= best + tol * max(1.0, abs(best)):
            # ub = (terms of the parent) + w_j and choices are sorted by w: none left can do better
            pos[d] = s1 - s0
            continue
        cur[d] = j
        if d == T - 1:
            if V <= best:
                continue
            best = V
            found = True
            for k in range(T):
                choice_out[lo + k] = base + cur[k]
            continue
        Vd[d + 1] = V
        for i in range(m):
            Ad[d + 1, i] = Ad[d, i] + a[base + j, i]
        d += 1
        pos[d] = 0
    if not found and status == 0:
        return -1e300, 2, nodes
    return best, status, nodes


@njit(
    "void(int64[:], int64[:], float64[:], float64[:, :], float64[:, :], float64[:, :], int64, int64, float64, "
    "boolean[:], int64[:], int64[:], float64[:], int64[:], int64[:])",
    cache=True,
    nogil=True,
)
def solve_counties(c_tstart, t_start, v, a, b, mu, node_limit, mu_iters, tol, todo, start, choice_out, val_out,
                   status_out, nodes_out):
    """Every county c with todo[c]: best plan (choice_out), its value, status 0 optimal /
    1 node limit (best found so far kept) / 2 infeasible; mu[c] is refined in place.
    `start`: a known plan per township (−1 where none) that each county's search starts
    from when it still meets the county's rows."""
    n_c = len(c_tstart) - 1
    for c in range(n_c):
        if not todo[c]:
            continue
        lo, hi = c_tstart[c], c_tstart[c + 1]
        if mu_iters > 0:
            m2, g = _county_mu(lo, hi, t_start, v, a, b[c], mu[c].copy(), mu_iters)
            mu[c, :] = m2
        val, st, nd = _county_bb(lo, hi, t_start, v, a, b[c], mu[c], node_limit, choice_out, tol, start)
        val_out[c] = val
        status_out[c] = st
        nodes_out[c] = nd
