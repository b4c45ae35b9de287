"""`churn-train`: fetch, validate, tune, evaluate, sign and publish the churn model.

`churn-train keygen --out DIR` makes a local signing key pair; `churn-train rollback` puts the
previous champion back. `--monitoring-run-id RUN` (a retraining asked for by a drift or
performance alert) tags the promotion gate's decision and reason on that monitoring run.
Exit codes: 2 bad input or settings, 3 MLflow unreachable or refusing, 4 the registry state
refuses the request (nothing to roll back).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from churn_training import signing
from churn_training.data import DataError, fetch_ibm_dataset, load_dataset
from churn_training.params import ParamsError, parse_params
from churn_training.settings import TrainSettings

if TYPE_CHECKING:  # imported for real after argument parsing (see main)
    from churn_training.outcome import TrainingOutcome
    from churn_training.publish import PublishResult

EXIT_DATA = 2
EXIT_USAGE = 2
EXIT_MLFLOW = 3
UNSIGNED_REFUSED = (
    f"refusing to publish an unsigned model: set {signing.KEY_SETTINGS} (a local pair: "
    "`churn-train keygen --out DIR`), or ALLOW_UNSIGNED_MODELS=true for development only"
)

console = Console(stderr=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="churn-train", description=__doc__)
    parser.add_argument(
        "--data", help="CSV path or http(s) URL with the Telco schema (default: IBM)"
    )
    parser.add_argument(
        "--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI)"
    )
    parser.add_argument("--trials", type=int, help="Optuna trials (default 50)")
    parser.add_argument("--seed", type=int, help="seed for the split, CV and search (default 42)")
    parser.add_argument("--cv-folds", type=int, help="cross-validation folds (default 5)")
    parser.add_argument("--offer-cost", type=float, help="cost of one retention offer")
    parser.add_argument("--saved-value", type=float, help="value of a saved customer")
    parser.add_argument("--success-rate", type=float, help="share of offers that keep a churner")
    parser.add_argument(
        "--params", help="JSON of XGBoost parameters: skip the search and train these"
    )
    parser.add_argument("--model-dir", type=Path, help="also save the MLflow model directory here")
    parser.add_argument(
        "--no-publish", action="store_true", help="do not log to MLflow (use with --model-dir)"
    )
    parser.add_argument(
        "--monitoring-run-id",
        metavar="RUN",
        help="the monitoring run that asked for this retraining: the promotion gate's decision "
        "and reason are tagged on it (retrain.decision, retrain.reason, retrain.model_version); "
        "'latest' = the newest run of the experiment telco-churn-monitoring (what an alarm saw)",
    )
    parser.add_argument("--fetch-only", action="store_true", help="download and verify the data")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    commands = parser.add_subparsers(dest="command", metavar="{keygen,rollback}")
    keygen = commands.add_parser("keygen", help="write a local ECDSA P-256 signing key pair")
    keygen.add_argument("--out", type=Path, required=True, help="folder for the two PEM files")
    rollback = commands.add_parser("rollback", help="put the previous champion back")
    # SUPPRESS: a value given before the command is not reset by the subcommand's default.
    rollback.add_argument("--tracking-uri", default=argparse.SUPPRESS, help="MLflow URI")
    rollback.add_argument("--reason", default="manual rollback", help="recorded in version tags")
    return parser.parse_args(argv)


def build_settings(args: argparse.Namespace) -> TrainSettings:
    overrides: dict[str, Any] = {
        "data_source": args.data,
        "tracking_uri": args.tracking_uri,
        "trials": args.trials,
        "seed": args.seed,
        "cv_folds": args.cv_folds,
        "offer_cost": args.offer_cost,
        "saved_customer_value": args.saved_value,
        "offer_success_rate": args.success_rate,
    }
    settings = TrainSettings()
    return settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})


def summary_table(outcome: TrainingOutcome, result: PublishResult | None, elapsed: float) -> Table:
    table = Table(title="telco-churn training summary")
    table.add_column("Metric")
    table.add_column("XGBoost", justify="right")
    table.add_column("LogReg baseline", justify="right")
    for key in ("roc_auc", "pr_auc", "brier", "log_loss", "precision", "recall", "f1"):
        table.add_row(key, f"{outcome.metrics[key]:.4f}", f"{outcome.baseline_metrics[key]:.4f}")
    table.add_row(
        "expected value",
        f"{outcome.metrics['expected_value']:.0f}",
        f"{outcome.baseline_metrics['expected_value']:.0f}",
    )
    threshold = outcome.contract.threshold
    table.add_section()
    table.add_row("threshold (EV / F1)", f"{threshold.value:.2f} / {threshold.f1_optimal:.2f}", "")
    table.add_row("calibration", outcome.calibration.method, "")
    for check in outcome.behaviour:
        table.add_row(
            check.name, "passed" if check.passed else f"{check.violations} violations", ""
        )
    if result is not None:
        table.add_row("registered version", f"{result.version} -> @{result.alias}", "")
    table.add_row("training time", f"{elapsed:.0f} s", "")
    return table


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = build_settings(args)
    if args.command == "keygen":
        from churn_training.commands import keygen

        return keygen(args.out)
    if args.command == "rollback":
        from churn_training.commands import rollback

        return rollback(settings, args.reason)
    if args.fetch_only:
        try:
            path = fetch_ibm_dataset(settings.cache_dir)
        except DataError as exc:
            console.print(f"[red]data error:[/red] {exc}")
            return EXIT_DATA
        console.print(f"dataset ready: {path}")
        return 0
    if args.no_publish and args.model_dir is None:
        console.print("[red]--no-publish needs --model-dir, or the model would be lost[/red]")
        return EXIT_DATA
    if args.no_publish and args.monitoring_run_id:
        console.print(
            "[red]--monitoring-run-id needs publishing: only then does the gate decide[/red]"
        )
        return EXIT_USAGE
    try:
        fixed_params = parse_params(args.params) if args.params is not None else None
        signer = signing.signer_from_settings(settings)
    except (ParamsError, signing.SigningError) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return EXIT_USAGE
    if signer is None and not args.no_publish and not settings.allow_unsigned_models:
        console.print(f"[red]error:[/red] {UNSIGNED_REFUSED}", highlight=False, soft_wrap=True)
        return EXIT_USAGE

    # Heavy imports after argument parsing, so --help and --fetch-only stay quick.
    from churn_training import pipeline, publish, retrain

    started = time.perf_counter()
    monitoring_run = args.monitoring_run_id
    try:
        if not args.no_publish:
            publish.check_tracking_server(settings.tracking_uri or "")
        if monitoring_run:
            monitoring_run = retrain.resolve_monitoring_run(settings.tracking_uri, monitoring_run)
            retrain.check_monitoring_run(settings.tracking_uri, monitoring_run)
        dataset = load_dataset(settings.data_source, settings.cache_dir)
    except DataError as exc:
        console.print(f"[red]data error:[/red] {exc}")
        _record_failure(settings, monitoring_run, f"data error: {exc}")
        return EXIT_DATA
    except retrain.UnknownRunError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return EXIT_USAGE
    except (publish.PublishError, retrain.RetrainError) as exc:
        console.print(f"[red]mlflow error:[/red] {exc}")
        return EXIT_MLFLOW
    console.print(
        f"data: {len(dataset.frame)} customers, {int((dataset.frame['Churn'] == 'Yes').sum())} "
        f"churners, sha256 {dataset.sha256[:12]}…"
    )
    with tempfile.TemporaryDirectory(prefix="churn-train-") as tmp:
        try:
            outcome = pipeline.run(
                dataset, settings, Path(tmp), fixed_params=fixed_params, progress=not args.quiet
            )
        except Exception as exc:
            _record_failure(
                settings, monitoring_run, f"training failed: {type(exc).__name__}: {exc}"
            )
            raise
        if signer is not None:
            signed = signing.sign_bundle(outcome.bundle_dir, signer)
            console.print(f"bundle signed with key {signed['key_id']}")
        else:
            console.print("[yellow]warning:[/yellow] the bundle is NOT signed")
        if args.model_dir is not None:
            publish.save_local(outcome, args.model_dir)
            console.print(f"model saved to {args.model_dir}")
        result = None
        if not args.no_publish:
            try:
                result = publish.publish(outcome, settings)
            except publish.PublishError as exc:
                console.print(f"[red]mlflow error:[/red] {exc}")
                _record_failure(settings, monitoring_run, f"publishing failed: {exc}")
                return EXIT_MLFLOW
        elapsed = time.perf_counter() - started
        console.print(summary_table(outcome, result, elapsed))
        if result is not None:
            verdict = (
                "[green]promoted[/green]" if result.promoted else "[yellow]not promoted[/yellow]"
            )
            console.print(f"version {result.version} {verdict}: {result.reason}")
            print(json.dumps(publish.as_dict(result)))
            if monitoring_run:
                return _record_decision(settings, monitoring_run, result)
    return 0


def _record_decision(settings: TrainSettings, run_id: str, result: PublishResult) -> int:
    """Tag the monitoring run with the gate's decision; an MLflow error is the exit code."""
    from churn_training import retrain

    try:
        retrain.record_decision(settings.tracking_uri, run_id, result)
    except retrain.RetrainError as exc:
        console.print(f"[red]mlflow error:[/red] {escape(str(exc))}", highlight=False)
        return EXIT_MLFLOW
    console.print(f"monitoring run {run_id} tagged: {retrain.decision_tags(result)}")
    return 0


def _record_failure(settings: TrainSettings, run_id: str | None, reason: str) -> None:
    """Best effort: the monitoring run says the retraining failed (the job fails anyway)."""
    if not run_id:
        return
    from churn_training import retrain

    try:
        retrain.record_failure(settings.tracking_uri, run_id, reason)
    except retrain.RetrainError as exc:
        console.print(f"[yellow]warning:[/yellow] {escape(str(exc))}", highlight=False)


if __name__ == "__main__":
    sys.exit(main())
