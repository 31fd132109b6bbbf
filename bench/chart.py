#!/usr/bin/python3
"""Draws the repository growth per simulated day of bench/compare.sh's
results (medians over the runs) for chatvault, restic and BorgBackup.

  chart.py RESULTS DAYS OUT.png
"""
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    results, days, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    size = {}
    for line in open(results):
        run, label, tool, *rest = line.split()
        if tool.endswith("-size"):
            size.setdefault((label, tool[:-5]), []).append(int(rest[0]))
    labels = ["initial"] + [f"day{d}" for d in range(1, days + 1)]
    tools = [("chatvault", "#1f77b4"), ("restic", "#d62728"), ("borg", "#2ca02c")]
    width = 0.27
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=100)
    top = 0
    for i, (tool, colour) in enumerate(tools):
        med = [statistics.median(size[(label, tool)]) for label in labels]
        growth = [(b - a) / 1e6 for a, b in zip(med, med[1:])]
        xs = [d + (i - 1) * width for d in range(1, days + 1)]
        bars = ax.bar(xs, growth, width, label=tool, color=colour)
        top = max([top] + growth)
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=1)
    ax.set_xticks(range(1, days + 1), [f"day {d}" for d in range(1, days + 1)])
    ax.set_ylabel("repository growth (MB)")
    ax.set_title("Repository growth per day of chat use (benchmark store, medians)")
    ax.set_ylim(0, top * 1.3)  # room for the legend above the bars
    ax.legend(loc="upper center", ncol=3)
    fig.tight_layout()
    fig.savefig(out)
    print(f"chart.py: wrote {out}")


if __name__ == "__main__":
    main()
