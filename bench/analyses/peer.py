#!/usr/bin/env python3
"""The pandas + scipy peer of `fleuve analyze`: the same tables from the same Parquet file.

    python3 bench/analyses/peer.py SCORES.parquet REFERENCE OUTDIR

Idiomatic analyst code: pandas for grouping and joins, one scipy call per candidate × cell for
each test, statsmodels for BH. The bootstrap uses the same exact shortcut as fleuve (a
multinomial draw of the histogram of differences, numpy's C sampler), not item resampling,
so the peer is not slowed by a naive choice. Writes the paired t and bootstrap rows to OUTDIR for
the bench to cross-check against fleuve's.
"""
import math
import os
import sys
import time
import zlib

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

path, reference, outdir = sys.argv[1], sys.argv[2], sys.argv[3]
alpha, resamples = 0.05, 10_000
PREFERENCE = ["acc", "f1", "judge", "score"]
HIB = {"acc": True, "f1": True, "judge": True, "score": True}
t0 = time.time()
phase = {}

df = pd.read_parquet(path)
metrics = {}
for task, ms in df.groupby("task").metric.unique().items():
    metrics[task] = min(ms, key=lambda m: (PREFERENCE.index(m) if m in PREFERENCE else 9, m))
df = df[df.metric == df.task.map(metrics)]
phase["read"] = time.time() - t0

cell = df.groupby(["task", "shots", "system"]).score.agg(n="count", mean="mean", std="std").reset_index()

t1 = time.time()
keys = ["task", "shots", "item_id", "dataset_version"]
ref = df[df.system == reference][keys + ["score"]].rename(columns={"score": "ref"})
pairs = df[df.system != reference].merge(ref, on=keys)
pairs["d"] = pairs.score - pairs.ref
phase["join"] = time.time() - t1

t1 = time.time()
rows, boot_s = [], 0.0
for (task, shots, system), g in pairs.groupby(["task", "shots", "system"], sort=True):
    x, y = g.score.to_numpy(), g.ref.to_numpy()
    d = x - y
    n = len(d)
    r = stats.ttest_rel(x, y)
    half = stats.t.ppf(0.975, n - 1) * d.std(ddof=1) / math.sqrt(n)
    rows.append(dict(task=task, shots=shots, system=system, test="t", n=n, mean_diff=d.mean(), statistic=r.statistic, p_value=r.pvalue, ci_low=d.mean() - half, ci_high=d.mean() + half))
    w = stats.wilcoxon(x, y, zero_method="wilcox", correction=False, method="approx")
    rows.append(dict(task=task, shots=shots, system=system, test="wilcoxon", n=n, statistic=w.statistic, p_value=w.pvalue))
    if np.isin(x, [0, 1]).all() and np.isin(y, [0, 1]).all():
        b, c = int(((x == 1) & (y == 0)).sum()), int(((x == 0) & (y == 1)).sum())
        rows.append(dict(task=task, shots=shots, system=system, test="mcnemar", n=n, b=b, c=c, p_value=stats.binomtest(b, b + c, 0.5).pvalue if b + c else 1.0))
    tb = time.time()
    values, counts = np.unique(d, return_counts=True)
    rng = np.random.default_rng(zlib.crc32(f"{task}|{shots}|{system}".encode()))
    means = rng.multinomial(n, counts / n, size=resamples) @ values / n
    lo, hi = np.percentile(means, [2.5, 97.5])
    boot_s += time.time() - tb
    rows.append(dict(task=task, shots=shots, system=system, test="bootstrap", n=n, mean_diff=d.mean(), ci_low=lo, ci_high=hi))
paired = pd.DataFrame(rows)
paired["p_bh"] = np.nan
paired["p_bonferroni"] = np.nan
for _, idx in paired[paired.test != "bootstrap"].groupby(["test", "system"]).groups.items():
    ps = paired.loc[idx, "p_value"].to_numpy(dtype=float)
    paired.loc[idx, "p_bh"] = multipletests(ps, method="fdr_bh")[1]
    paired.loc[idx, "p_bonferroni"] = multipletests(ps, method="bonferroni")[1]
phase["tests"] = time.time() - t1 - boot_s
phase["bootstrap"] = boot_s

t1 = time.time()
norm = cell[["task", "shots", "system", "mean"]].rename(columns={"mean": "score"})
g = norm.groupby(["task", "shots"]).score
lo, hi = g.transform("min"), g.transform("max")
norm["normalized"] = np.where(hi == lo, 1.0, (norm.score - lo) / (hi - lo))
glob = norm.groupby("system").normalized.agg(mean="mean", std="std").reset_index()
glob["rank"] = stats.rankdata(-glob["mean"].round(12))
best = cell[cell["mean"].round(12) == cell.groupby(["task", "shots"])["mean"].transform("max").round(12)]
cell["rank"] = cell.groupby(["shots", "task"])["mean"].rank(ascending=False, method="average")
avg_ranks = cell.groupby(["shots", "system"])["rank"].mean().reset_index()
friedman = []
for shots, gs in cell.groupby("shots"):
    blocks = gs.pivot(index="task", columns="system", values="mean")
    k, n = blocks.shape[1], blocks.shape[0]
    chi2, p = stats.friedmanchisquare(*blocks.to_numpy().T)
    f = (n - 1) * chi2 / (n * (k - 1) - chi2)
    cd = stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2) * math.sqrt(k * (k + 1) / (6 * n))
    friedman.append(dict(shots=shots, k=k, n=n, chi2=chi2, p_value=p, iman_davenport_f=f, iman_davenport_p=stats.f.sf(f, k - 1, (k - 1) * (n - 1)), cd=cd))
tt = paired[paired.test == "t"]
record = tt.groupby("system").apply(lambda g: pd.Series(dict(
    sig_wins=((g.p_value < alpha) & (g.mean_diff > 0)).sum(), sig_losses=((g.p_value < alpha) & (g.mean_diff < 0)).sum(),
    bh_wins=((g.p_bh < alpha) & (g.mean_diff > 0)).sum(), bh_losses=((g.p_bh < alpha) & (g.mean_diff < 0)).sum(),
    numeric_wins=(g.mean_diff > 0).sum(), numeric_losses=(g.mean_diff < 0).sum())), include_groups=False)
phase["rankings"] = time.time() - t1

os.makedirs(outdir, exist_ok=True)
tt[["task", "shots", "system", "n", "mean_diff", "statistic", "p_value", "p_bh"]].to_parquet(os.path.join(outdir, "paired_t.parquet"))
paired[paired.test == "bootstrap"][["task", "shots", "system", "ci_low", "ci_high"]].to_parquet(os.path.join(outdir, "paired_bootstrap.parquet"))
pd.DataFrame(friedman).to_parquet(os.path.join(outdir, "friedman.parquet"))
print(" ".join(f"{k}={v:.1f}s" for k, v in phase.items()), f"total={time.time() - t0:.1f}s", f"paired_rows={len(paired)}")
