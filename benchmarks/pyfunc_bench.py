"""Pyfunc benchmark: bulk scoring through MLflow's own loader, before and after (issue 13).

Loads a churn-train model directory with `mlflow.pyfunc.load_model` and times `predict` on
100,000 rows (the dataset repeated) as a DataFrame, twice: as the CSV text (numbers as
strings, blanks for missing) and as pandas reads it typed. "before" runs the pyfunc code at
git HEAD (or `--before-ref`), "after" the working tree's, each in a copy of the model
directory; both must agree to 1e-12. Target: under 2 s for 100,000 rows.
Run: `uv run python benchmarks/pyfunc_bench.py [--model-dir DIR] [--rows N] [--no-before]`.
Without `--model-dir` it trains a quick unsigned model (`churn-train --no-publish --trials 1`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
PYFUNC_SOURCE = "training/src/churn_training/pyfunc_model.py"
DATASET = ROOT / ".cache" / "data" / "telco_customer_churn.csv"
TARGET_SECONDS = 2.0


def train_quick_model(directory: Path) -> Path:
    """A one-trial model of the bench's own, unsigned (it is never served)."""
    model_dir = directory / "model"
    churn_train = str(Path(sys.executable).parent / "churn-train")
    env = {**os.environ, "ALLOW_UNSIGNED_MODELS": "true"}
    for key in ("MODEL_SIGNING_KEY_FILE", "MODEL_SIGNING_KEY", "MODEL_SIGNING_KMS_KEY_ID"):
        env.pop(key, None)
    cmd = [churn_train, "--no-publish", "--trials", "1", "--model-dir", str(model_dir)]
    subprocess.run(cmd, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    return model_dir


def with_code(model_dir: Path, code: str, target: Path) -> Path:
    """A copy of the model directory whose logged pyfunc code is `code`."""
    shutil.copytree(model_dir, target)
    (target / "pyfunc_model.py").write_text(code)
    return target


def frames(rows: int) -> dict[str, pd.DataFrame]:
    text = pd.read_csv(DATASET, dtype=str, keep_default_na=False).drop(columns=["Churn"])
    typed = pd.read_csv(DATASET).drop(columns=["Churn"])
    repeat = -(-rows // len(text))
    return {
        "csv text": pd.concat([text] * repeat, ignore_index=True).head(rows),
        "typed": pd.concat([typed] * repeat, ignore_index=True).head(rows),
    }


def time_predict(model_dir: Path, frame: pd.DataFrame, repeats: int) -> tuple[float, pd.DataFrame]:
    """Best wall time of `repeats` predictions over the whole frame, and the last output."""
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model(str(model_dir))
    model.predict(frame.head(10))  # warm-up: imports and first-call costs
    best, out = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        out = model.predict(frame)
        best = min(best, time.perf_counter() - started)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", type=Path, help="a churn-train model directory")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before-ref", default="HEAD", help="git ref of the 'before' code")
    parser.add_argument("--no-before", action="store_true", help="time the working tree only")
    args = parser.parse_args()
    versions = {"after": (ROOT / PYFUNC_SOURCE).read_text()}
    if not args.no_before:
        shown = subprocess.run(
            ["git", "show", f"{args.before_ref}:{PYFUNC_SOURCE}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        versions = {"before": shown.stdout, **versions}
    inputs = frames(args.rows)
    print(f"machine: {os.cpu_count()} cores; rows: {args.rows}; best of {args.repeats}")
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model_dir or train_quick_model(Path(tmp))
        outputs: dict[tuple[str, str], pd.DataFrame] = {}
        for version, code in versions.items():
            copy = with_code(model_dir, code, Path(tmp) / f"model-{version}")
            for kind, frame in inputs.items():
                seconds, out = time_predict(copy, frame, args.repeats)
                outputs[version, kind] = out
                verdict = "met" if seconds < TARGET_SECONDS else "MISSED"
                print(
                    f"{version:<7} {kind:<9} {seconds:7.3f} s  "
                    f"({args.rows / seconds:,.0f} rows/s; target < {TARGET_SECONDS} s: {verdict})"
                )
    if "before" in versions:
        for kind in inputs:
            before, after = outputs["before", kind], outputs["after", kind]
            worst = np.abs(before["churn_probability"] - after["churn_probability"]).max()
            same = (before["churn"] == after["churn"]).all() and worst <= 1e-12
            print(
                f"{kind:<9} before vs after: max |dp| = {worst:.1e}; {'same' if same else 'DIFFER'}"
            )
            if not same:
                sys.exit(1)


if __name__ == "__main__":
    main()
