"""Training benchmark: the default job (tuning included) on the IBM data, timed, with its metrics.

Prints wall time per stage and the holdout figures against the targets
(ROC-AUC >= 0.845, Brier <= 0.137, total under 3 minutes on a 2-core machine).
Run: `uv run python benchmarks/train_bench.py [--trials N]`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from churn_training import pipeline
from churn_training.data import load_dataset
from churn_training.settings import TrainSettings

TARGETS = {"roc_auc": (">=", 0.845), "brier": ("<=", 0.137)}
TIME_TARGET_SECONDS = 180


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=None, help="default: the job's default")
    args = parser.parse_args()
    settings = TrainSettings()
    if args.trials is not None:
        settings = settings.model_copy(update={"trials": args.trials})
    started = time.perf_counter()
    dataset = load_dataset(settings.data_source, settings.cache_dir)
    load_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        outcome = pipeline.run(dataset, settings, Path(tmp), progress=False)
    total = time.perf_counter() - started
    print(f"machine: {os.cpu_count()} cores; trials: {settings.trials}; seed: {settings.seed}")
    print(f"load+validate  {load_seconds:7.1f} s")
    for stage, seconds in outcome.timings.items():
        print(f"{stage:<22} {seconds:7.1f} s")
    ok = total <= TIME_TARGET_SECONDS
    print(
        f"total wall time {total:6.1f} s "
        f"(target <= {TIME_TARGET_SECONDS} s: {'met' if ok else 'MISSED'})"
    )
    for key, (op, target) in TARGETS.items():
        value = outcome.metrics[key]
        met = value >= target if op == ">=" else value <= target
        print(f"holdout {key:<8} {value:.4f}  (target {op} {target}: {'met' if met else 'MISSED'})")
    baseline_auc = outcome.baseline_metrics["roc_auc"]
    print(f"baseline roc_auc {baseline_auc:.4f}; calibration {outcome.calibration.method}")


if __name__ == "__main__":
    main()
