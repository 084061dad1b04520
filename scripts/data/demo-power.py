"""Minimum detectable effects of the demo sample's tests at 80% power (docs/demo.md, "Power").

    python3 -m venv .venv-power && .venv-power/bin/pip install scipy statsmodels
    .venv-power/bin/python scripts/data/demo-power.py

The analyses test each system against the base in every cell (task x shots) and adjust within a
family of m = 9 cells per system and test (analysis/analyses.ts, family "system"), by
Benjamini-Hochberg at q = 0.05. BH rejects the k-th smallest p-value at k*q/m: a lone true effect
in the family must reach q/m = 0.0056 (BH = Bonferroni then); when all 9 cells hold an effect the
largest p-value needs only q = 0.05. The two bounds are reported.

Paired t (scipy.stats.ttest_rel): the standardized MDE d_z = mean(d)/sd(d) solves
    P(|T| > t_{1-a/2, n-1}) = 0.8, T ~ noncentral t(n-1, d_z * sqrt(n)),
found by statsmodels' TTestPower.solve_power and checked here against scipy's noncentral t and
the normal approximation d_z ~ (z_{1-a/2} + z_{0.8}) / sqrt(n). In a task's units the MDE is
d_z * sd(d); for MCQA, d_i in {-1, 0, 1}: with discordance psi = P(systems disagree on an item)
and accuracy difference D, sd(d)^2 = psi - D^2, so D = d_z * sqrt(psi) / sqrt(1 + d_z^2).

McNemar, exact (scipy.stats.binomtest(b, b + c, 0.5)): power by exact enumeration over the
number of discordant items B + C ~ Binomial(n, psi) and B | (B + C) ~ Binomial(B + C, p10/psi),
with p10 = (psi + D)/2; the MDE is the smallest D reaching 80%, found by bisection. McNemar runs
on binary cells only, so its family holds the 3 MCQA cells of a system: q/3 for a lone effect.
"""
import math

from scipy import stats
from statsmodels.stats.power import TTestPower

POWER = 0.8
Q = 0.05
M = 9  # cells per system: 3 tasks x 3 shot counts
ALPHAS = {"lone effect (q/m)": Q / M, "all 9 cells (q)": Q}
SIZES = {"MCQA": 200, "ExtQA": 100, "AbsQA": 100}


def dz_statsmodels(n, alpha):
    return TTestPower().solve_power(effect_size=None, nobs=n, alpha=alpha, power=POWER, alternative="two-sided")


def power_t(dz, n, alpha):
    df = n - 1
    crit = stats.t.ppf(1 - alpha / 2, df)
    nc = dz * math.sqrt(n)
    return stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc)


def dz_scipy(n, alpha):
    lo, hi = 0.0, 3.0
    for _ in range(80):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if power_t(mid, n, alpha) < POWER else (lo, mid)
    return hi


def dz_normal(n, alpha):
    return (stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(POWER)) / math.sqrt(n)


def mcnemar_critical(n, alpha):
    """Per number of discordant items d: the largest k with binomtest(k, d).pvalue <= alpha (-1: none).

    With p = 0.5 the two-sided exact p-value of b is min(1, 2 * P(X <= min(b, d - b))); checked
    against scipy's binomtest below."""
    crit = [-1] * (n + 1)
    for d in range(1, n + 1):
        k = -1
        while k + 1 <= d // 2 and min(1.0, 2 * stats.binom.cdf(k + 1, d, 0.5)) <= alpha:
            k += 1
        crit[d] = k
    for d in (5, 17, 60, n):
        for b in range(d + 1):
            assert (stats.binomtest(b, d, 0.5).pvalue <= alpha) == (b <= crit[d] or b >= d - crit[d]), (d, b)
    return crit


def mcnemar_power(n, psi, diff, crit):
    p10 = (psi + diff) / 2
    total = 0.0
    for d in range(1, n + 1):
        k = crit[d]
        if k < 0:
            continue
        q = p10 / psi
        total += stats.binom.pmf(d, n, psi) * (stats.binom.cdf(k, d, q) + stats.binom.sf(d - k - 1, d, q))
    return total


def mcnemar_mde(n, psi, crit):
    lo, hi = 0.0, psi
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if mcnemar_power(n, psi, mid, crit) < POWER else (lo, mid)
    return hi


def main():
    print(f"power {POWER}, BH q = {Q} over m = {M} cells per system\n")
    print("| task | n | alpha | d_z (statsmodels) | d_z (scipy nct) | d_z (normal approx.) |")
    print("|---|---|---|---|---|---|")
    dz = {}
    for task, n in SIZES.items():
        for label, a in ALPHAS.items():
            s, c, z = dz_statsmodels(n, a), dz_scipy(n, a), dz_normal(n, a)
            assert abs(s - c) < 1e-4, (task, label, s, c)
            dz[(task, label)] = s
            print(f"| {task} | {n} | {label} = {a:.4f} | {s:.3f} | {c:.3f} | {z:.3f} |")
    # McNemar runs on binary cells only: its family per system is the 3 MCQA cells.
    mcnemar_alphas = {"lone effect (q/3)": Q / 3, "all 3 MCQA cells (q)": Q}
    print("\nMCQA accuracy difference D by discordance psi = P(the two systems disagree on an item):\n")
    print("| psi | paired t, q/9 | paired t, q | exact McNemar, q/3 | exact McNemar, q |")
    print("|---|---|---|---|---|")
    n = SIZES["MCQA"]
    crits = {label: mcnemar_critical(n, a) for label, a in mcnemar_alphas.items()}
    for psi in (0.2, 0.3, 0.5):
        t_mde = [dz[("MCQA", label)] * math.sqrt(psi) / math.sqrt(1 + dz[("MCQA", label)] ** 2) for label in ALPHAS]
        m_mde = [mcnemar_mde(n, psi, crits[label]) for label in mcnemar_alphas]
        print(f"| {psi} | {t_mde[0]:.3f} | {t_mde[1]:.3f} | {m_mde[0]:.3f} | {m_mde[1]:.3f} |")
    print("\nExtQA token F1 and AbsQA judge score (1-5): MDE = d_z * sd(d):\n")
    print("| task | alpha | sd(d) | MDE |")
    print("|---|---|---|---|")
    for task, sds in (("ExtQA", (0.2, 0.3, 0.4)), ("AbsQA", (0.75, 1.0, 1.5))):
        for label in ALPHAS:
            for sd in sds:
                print(f"| {task} | {label} | {sd} | {dz[(task, label)] * sd:.3f} |")


if __name__ == "__main__":
    main()
