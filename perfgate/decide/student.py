"""Student's t distribution on plain floats: the tail and the quantile (no scipy; see ``decide/ranks.py``).

The session model (``perfgate.decide.sessions``) estimates the spread between
sessions from a few baseline sessions; a standard error that leans on such an
estimate is known to only a few degrees of freedom, and its normal quantile
would make the interval too narrow exactly when the sessions dominate. The
decision rule then uses Student's t with Satterthwaite's degrees of freedom.

``t_sf`` is the regularized incomplete beta function, evaluated by its
continued fraction (modified Lentz, as in Numerical Recipes' ``betacf``);
``t_ppf`` inverts it by bisection. ``tests/unit/test_student.py`` holds both
to ``scipy.stats.t`` on seeded random inputs.
"""

from __future__ import annotations

import math
from functools import lru_cache

from perfgate.decide.ranks import normal_ppf, normal_sf

# Past this many degrees of freedom t and the normal agree to better than 1e-6 in the tails used here.
NORMAL_DOF = 1e7
_EPS = 1e-15
_TINY = 1e-300


def _beta_cf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (converges fast for x < (a + 1) / (a + b + 2))."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + aa / c
            c = c if abs(c) > _TINY else _TINY
            delta = d * c
            h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return h


def _beta_inc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b) for 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_cf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_cf(b, a, 1.0 - x) / b


def t_sf(t: float, dof: float) -> float:
    """P(T > t) for Student's t with ``dof`` (> 0, not necessarily whole) degrees of freedom."""
    if dof <= 0 or math.isnan(t):
        raise ValueError("t_sf needs dof > 0 and a number")
    if dof >= NORMAL_DOF or math.isinf(dof):
        return normal_sf(t)
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    tail = 0.5 * _beta_inc(dof / 2.0, 0.5, dof / (dof + t * t))
    return tail if t >= 0 else 1.0 - tail


def _t_pdf(t: float, dof: float) -> float:
    log_norm = math.lgamma((dof + 1) / 2) - math.lgamma(dof / 2) - 0.5 * math.log(dof * math.pi)
    return math.exp(log_norm - (dof + 1) / 2 * math.log1p(t * t / dof))


def _cornish_fisher(z: float, dof: float) -> float:
    """The t quantile's expansion in 1/dof around the normal's ``z`` (a start for Newton's method)."""
    z2 = z * z
    g1 = (z2 + 1) * z / 4
    g2 = ((5 * z2 + 16) * z2 + 3) * z / 96
    g3 = (((3 * z2 + 19) * z2 + 17) * z2 - 15) * z / 384
    return z + g1 / dof + g2 / dof**2 + g3 / dof**3


@lru_cache(maxsize=1024)
def t_ppf(q: float, dof: float) -> float:
    """The quantile of Student's t (``scipy.stats.t.ppf(q, dof)``) for 0 < q < 1.

    Newton's method on ``t_sf`` from the Cornish–Fisher start, kept inside a
    bracket that bisection narrows whenever a Newton step would leave it.
    """
    if not 0.0 < q < 1.0:
        raise ValueError("t_ppf needs 0 < q < 1")
    if dof >= NORMAL_DOF or math.isinf(dof):
        return normal_ppf(q)
    if q < 0.5:
        return -t_ppf(1.0 - q, dof)
    target = 1.0 - q
    z = normal_ppf(q)
    low, high = 0.0, max(1.0, z)
    while t_sf(high, dof) > target:
        low, high = high, high * 2.0
    x = min(max(_cornish_fisher(z, dof), low), high)
    for _ in range(100):
        excess = t_sf(x, dof) - target  # > 0: x is below the quantile
        if excess > 0:
            low = x
        else:
            high = x
        step = excess / _t_pdf(x, dof)
        following = x + step
        if not low < following < high:
            following = 0.5 * (low + high)
        if abs(following - x) <= 1e-13 * max(1.0, abs(x)) or high - low <= 1e-13 * max(1.0, high):
            return following
        x = following
    return x
