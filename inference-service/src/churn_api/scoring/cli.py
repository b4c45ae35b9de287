"""`churn-score`: score a customer snapshot into the store (`run`, with its drift report),
ingest what really happened (`outcomes`, with the realized performance), make a synthetic base
(`synth`), create or upgrade the store's schema (`migrate`).

Exit codes: 0 the run finished (rejected rows included), 1 it failed (model, store), 2 bad
arguments or a snapshot that cannot be scored as given (unknown columns, no id column).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from churn_api.scoring.report import Progress, outcome_lines, summary_lines
from churn_api.scoring.runner import RunFailedError, RunRequest, score_snapshot
from churn_api.scoring.snapshot import SnapshotError

DEFAULT_PARTITION_ROWS = 50_000


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _scheduler(text: str) -> str:
    if text.startswith("local:"):
        count = text.split(":", 1)[1]
        if not count.isdigit() or int(count) < 1:
            raise argparse.ArgumentTypeError(f"{text!r}: local:N takes a number of workers >= 1")
    return text


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="churn-score", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="score a snapshot into the customer store")
    run.add_argument(
        "--customers",
        required=True,
        help="Parquet file or folder, or CSV: a path, s3:// or http(s)://",
    )
    run.add_argument(
        "--model-uri",
        help="a local model directory (default: MODEL_URI, else the registry's champion)",
    )
    run.add_argument(
        "--database-url", help="default: DATABASE_URL, else sqlite:///.cache/churn-store.db"
    )
    run.add_argument(
        "--scheduler",
        type=_scheduler,
        help="Dask scheduler address, or local:N for a local cluster of N workers",
    )
    run.add_argument(
        "--workers-write",
        action="store_true",
        help="with --scheduler and PostgreSQL: each worker writes its partitions (local:N "
        "workers get this URL; a cluster's use their own DATABASE_URL)",
    )
    run.add_argument(
        "--snapshot-date",
        type=_date,
        help="the snapshot's date (default: its snapshot_date column, else today UTC)",
    )
    run.add_argument(
        "--drop-columns",
        type=_names,
        default=[],
        help="comma-separated columns to ignore (e.g. Churn)",
    )
    run.add_argument(
        "--reasons",
        choices=("top-decile", "all", "none"),
        default="top-decile",
        help="whose top reasons to store (default: top-decile)",
    )
    run.add_argument(
        "--partition-rows",
        type=_positive,
        default=DEFAULT_PARTITION_ROWS,
        help=f"rows per partition (default {DEFAULT_PARTITION_ROWS:,})",
    )
    run.add_argument(
        "--no-migrate",
        action="store_true",
        help="do not create or upgrade the store's schema first",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    run.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    run.add_argument(
        "--no-mlflow",
        action="store_true",
        help="do not log the drift report to MLflow (it is stored either way)",
    )
    outcomes = commands.add_parser(
        "outcomes", help="ingest outcomes (customer id, churned yes/no, date); realized metrics"
    )
    outcomes.add_argument(
        "--labels",
        required=True,
        help="CSV or Parquet with customerID, churned (yes/no) and outcome_date: a path, "
        "s3:// or http(s)://",
    )
    outcomes.add_argument("--database-url", help="default: DATABASE_URL, else the SQLite file")
    outcomes.add_argument("--no-migrate", action="store_true", help="do not upgrade the schema")
    outcomes.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    outcomes.add_argument("--json", action="store_true", help="print the summary as JSON")
    synth = commands.add_parser("synth", help="write a synthetic customer base")
    synth.add_argument("--rows", type=_positive, required=True)
    synth.add_argument(
        "--out", required=True, help="*.parquet file, a folder (partitioned Parquet) or *.csv"
    )
    synth.add_argument(
        "--source", help="the IBM CSV to draw from (default: .cache/data/telco_customer_churn.csv)"
    )
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--id-prefix", default="SYN-", help="prefix of the fresh ids (default SYN-)")
    migrate = commands.add_parser("migrate", help="create or upgrade the store's schema")
    migrate.add_argument("--database-url", help="default: DATABASE_URL, else the SQLite file")
    return parser


def run(argv: Sequence[str] | None = None) -> None:
    """Console entry point."""
    sys.exit(main(argv))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "synth":
            return _synth(args)
        if args.command == "outcomes":
            return _outcomes(args)
        return _migrate(args)
    except ValidationError as exc:
        print(f"churn-score: bad settings: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    request = RunRequest(
        customers=args.customers,
        model_uri=args.model_uri,
        database_url=args.database_url,
        scheduler=args.scheduler,
        snapshot_date=args.snapshot_date,
        drop_columns=args.drop_columns,
        reasons=args.reasons,
        partition_rows=args.partition_rows,
        migrate=not args.no_migrate,
        workers_write=args.workers_write,
        mlflow=not args.no_mlflow,
    )
    progress = None if args.no_progress else Progress(sys.stderr)
    try:
        outcome = score_snapshot(request, progress)
    except SnapshotError as exc:
        print(f"churn-score: {exc}", file=sys.stderr)
        return 2
    except RunFailedError as exc:
        print(f"churn-score: run failed: {exc}", file=sys.stderr)
        if exc.summary is not None:
            _print(exc.summary, args.json)
        return 1
    finally:
        if progress is not None:
            progress.close()
    _print(outcome, args.json)
    return 0


def _print(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, default=str))
    else:
        print("\n".join(summary_lines(summary)))


def _outcomes(args: argparse.Namespace) -> int:
    from churn_api.scoring.labels import LabelsError
    from churn_api.scoring.outcomes import OutcomesFailedError, OutcomesRequest, ingest_outcomes

    request = OutcomesRequest(
        labels=args.labels,
        database_url=args.database_url,
        migrate=not args.no_migrate,
        mlflow=not args.no_mlflow,
    )
    try:
        summary = ingest_outcomes(request)
    except LabelsError as exc:
        print(f"churn-score outcomes: {exc}", file=sys.stderr)
        return 2
    except OutcomesFailedError as exc:
        print(f"churn-score outcomes: failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary, default=str) if args.json else "\n".join(outcome_lines(summary)))
    return 0


def _synth(args: argparse.Namespace) -> int:
    from churn_api.scoring.synth import SynthError, synthesize

    try:
        written = synthesize(args.rows, args.out, args.source, args.seed, args.id_prefix)
    except SynthError as exc:
        print(f"churn-score synth: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"rows": written, "out": args.out}))
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from churn_api.scoring.model import ScoreSettings
    from churn_api.store.engine import StoreError, database_url_default, migrate, redact_url

    settings = ScoreSettings()
    url = (
        args.database_url
        or (settings.database_url.get_secret_value() if settings.database_url else None)
        or database_url_default()
    )
    try:
        migrate(url)
    except StoreError as exc:
        print(f"churn-score migrate: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"migrated": redact_url(url)}))
    return 0
