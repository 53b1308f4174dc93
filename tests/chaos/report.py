"""Add up a campaign's JSON lines: the tables of docs/reliability.md and its plot.

python -m tests.chaos.report RESULTS.jsonl [--png FIGURE.png]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from tests.chaos.campaign import ANOMALIES
from tests.chaos.faults import KINDS
from tests.chaos.workloads import KIND_TABLE


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def tables(runs: list[dict[str, Any]]) -> str:
    faults = sum(r["faults"] for r in runs)
    checked = sum(r["objects_checked"] for r in runs)
    anomalies: Counter[str] = Counter()
    by_kind: Counter[str] = Counter()
    for r in runs:
        anomalies.update(r["anomalies"])
        by_kind.update(r["faults_by_kind"])
    measured = [r for r in runs if r["resent_bytes"] is not None]
    resent = sum(r["resent_bytes"] for r in measured)
    data = sum(r["data_bytes"] for r in measured)
    out = [
        "| runs | faults injected | objects verified | anomalies | bytes sent again |",
        "|---|---|---|---|---|",
    ]
    share = (
        f"{resent / data:.1%} of {data / 2**30:.2f} GiB ({len(measured)} runs measured)" if data else "n/a"
    )
    out.append(f"| {len(runs):,} | {faults:,} | {checked:,} | {sum(anomalies.values())} | {share} |")
    out += ["", "| anomaly class | count |", "|---|---|"]
    out += [f"| {name} | {anomalies.get(name, 0)} |" for name in ANOMALIES]
    out += ["", "| fault | injected |", "|---|---|"]
    out += [f"| {kind} | {by_kind.get(kind, 0):,} |" for kind in KINDS]
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        rows[r["workload"]].append(r)
    out += [
        "",
        "| workload | store | direction | entry point | runs | faults | objects verified | attempts | "
        "anomalies | bytes sent again |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, info in KIND_TABLE.items():
        group = rows.get(kind, [])
        if not group:
            continue
        m = [r for r in group if r["resent_bytes"] is not None]
        d = sum(r["data_bytes"] for r in m)
        again = f"{sum(r['resent_bytes'] for r in m) / d:.1%}" if d else "not measured"
        out.append(
            f"| {kind} | {info['store']} | {info['direction']} | {info['entry']} | {len(group)} | "
            f"{sum(r['faults'] for r in group):,} | {sum(r['objects_checked'] for r in group):,} | "
            f"{sum(r['attempts'] for r in group):,} | {sum(sum(r['anomalies'].values()) for r in group)} | "
            f"{again} |"
        )
    return "\n".join(out)


def plot(runs: list[dict[str, Any]], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    kinds = sorted({r["workload"] for r in runs})
    palette = plt.get_cmap("tab20")
    for i, kind in enumerate(kinds):
        color = palette(i % 20)  # the same colour for a workload in both panels
        group = [r for r in runs if r["workload"] == kind]
        xs = [r["faults"] for r in group]
        top.scatter(
            xs, [sum(r["anomalies"].values()) for r in group], s=14, label=kind, alpha=0.7, color=color
        )
        m = [r for r in group if r["resent_bytes"] is not None and r["data_bytes"]]
        if m:
            bottom.scatter(
                [r["faults"] for r in m],
                [100 * r["resent_bytes"] / r["data_bytes"] for r in m],
                s=14,
                alpha=0.7,
                color=color,
            )
    top.set_ylabel("anomalies in the run")
    top.set_ylim(-0.5, max(3, max(sum(r["anomalies"].values()) for r in runs) + 1))
    top.legend(fontsize=7, ncol=3)
    top.set_title(f"{len(runs)} runs, {sum(r['faults'] for r in runs):,} faults")
    bottom.set_ylabel("bytes sent again (% of the run's data)")
    bottom.set_xlabel("faults injected in the run")
    fig.tight_layout()
    fig.savefig(png, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos.report", description=__doc__)
    parser.add_argument("results", type=Path, nargs="+")
    parser.add_argument("--png", type=Path, default=None)
    args = parser.parse_args(argv)
    runs = [run for path in args.results for run in load(path)]
    print(tables(runs))
    if args.png is not None:
        plot(runs, args.png)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
