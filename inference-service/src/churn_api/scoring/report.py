"""What churn-score shows a person: a plain progress bar on stderr and the end-of-run summary
(counts, rows/s per stage, model, run id, the first rejected rows; never customer attributes)."""

from __future__ import annotations

import time
from typing import Any, TextIO

WIDTH = 30


class Progress:
    """`[#####-----] 120,000 / 1,000,000 rows  85,000 rows/s`, redrawn at most 4 times a second
    on a terminal, one line every 10 s otherwise (logs)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.last = 0.0
        self.drawn = False

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self.last < (0.25 if self.tty else 10.0) and done != total:
            return
        self.last = now
        rate = done / max(now - self.started, 1e-9)
        if total:
            filled = int(WIDTH * min(done / total, 1.0))
            text = f"[{'#' * filled}{'-' * (WIDTH - filled)}] {done:,} / {total:,} rows"
        else:
            text = f"{done:,} rows"
        text += f"  {rate:,.0f} rows/s"
        self.stream.write(f"\r{text}\x1b[K" if self.tty else f"{text}\n")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.tty and self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The summary as text lines."""
    model = summary["model"]
    lines = [
        f"run {summary['run_id']} {summary['status']}: {summary['snapshot']} "
        f"(snapshot date {summary['snapshot_date']}) with {model['name']} "
        f"version {model['version']} on {summary['engine']}",
        f"rows read {summary['rows_read']:,}, scored {summary['rows_scored']:,}, "
        f"rejected {summary['rows_rejected']:,} in {summary['seconds']:.1f} s"
        + (f" ({summary['rows_per_second']:,.0f} rows/s)" if summary["rows_per_second"] else ""),
    ]
    rates = summary["stage_rows_per_second"]
    stages = ", ".join(
        f"{stage} {seconds:.2f} s" + (f" ({rates[stage]:,.0f} rows/s)" if rates[stage] else "")
        for stage, seconds in summary["stage_seconds"].items()
    )
    lines.append(f"stages: {stages}")
    curve = summary.get("profit_curve")
    if curve:
        best = curve["by_expected_value"]
        lines.append(
            f"best call list: top {best['best_k']:,} by expected value, "
            f"expected value {best['best_expected_value']:,.0f}"
        )
    lines += drift_lines(summary.get("drift"))
    for rejected in summary["rejected_sample"]:
        problems = "; ".join(f"{e['field']}: {e['message']}" for e in rejected["errors"])
        lines.append(f"  rejected row {rejected['row']} ({rejected['customer_id']}): {problems}")
    if summary["rows_rejected"] > len(summary["rejected_sample"]):
        lines.append(f"  ... {summary['rows_rejected'] - len(summary['rejected_sample']):,} more")
    return lines


def _mlflow_line(logged: dict[str, Any] | None, kept: str) -> str:
    if not logged:
        return ""
    if logged["logged"]:
        return f"MLflow run {logged['run_id']} in {logged['experiment']}"
    return f"not logged to MLflow ({logged['error']}); {kept}"


def drift_lines(drift: dict[str, Any] | None) -> list[str]:
    """The run's drift: score PSI, fields over the thresholds, where the report went."""
    if not drift:
        return []
    if "score_psi" not in drift:
        return [f"drift: {drift['status']}"]
    score = drift["score_psi"]
    watched = ", ".join(f"{w['field']} {w['psi']:.3f} ({w['status']})" for w in drift["watched"])
    lines = [
        f"drift: {drift['status']}, score PSI "
        + ("n/a" if score is None else f"{score:.3f} ({drift['score_status']})")
        + f"; fields over 0.1: {watched or 'none'}"
    ]
    if drift.get("unseen_rejected"):
        unseen = ", ".join(f"{k} {v:,}" for k, v in drift["unseen_rejected"].items())
        lines.append(f"drift: rows rejected for unknown categories: {unseen}")
    stored = "stored" if drift["stored"] else f"NOT stored ({drift.get('store_error')})"
    kept = "the report is in the store" if drift["stored"] else "the report was not kept"
    lines.append(f"drift report {stored}; {_mlflow_line(drift.get('mlflow'), kept)}")
    return lines


def outcome_lines(summary: dict[str, Any]) -> list[str]:
    """`churn-score outcomes`' summary as text lines."""
    reasons = ", ".join(f"{k} {v:,}" for k, v in summary["rejected_by_reason"].items() if v)
    lines = [
        f"outcomes {summary['labels']}: read {summary['rows_read']:,}, "
        f"ingested {summary['rows_ingested']:,}, rejected {summary['rows_rejected']:,}"
        + (f" ({reasons})" if reasons else ""),
        f"store: {summary['outcomes_in_store']:,} outcomes, "
        f"{summary['outcomes_evaluated']:,} with a score made before them, "
        f"{summary['outcomes_without_earlier_score']:,} without",
    ]
    for r in summary["performance"]:
        auc = "n/a" if r["roc_auc"] is None else f"{r['roc_auc']:.3f}"
        pr = "n/a" if r["pr_auc"] is None else f"{r['pr_auc']:.3f}"
        top = r["top_decile_precision"]
        lines.append(
            f"  {r['model_name']} v{r['model_version']} {r['month']}: n {r['n']:,} "
            f"churned {r['positives']:,}, ROC-AUC {auc}, PR-AUC {pr}, "
            f"Brier {r['brier']:.3f}, ECE {r['calibration_error']:.3f}, "
            f"top-decile precision {top:.3f}"
        )
    for rejected in summary["rejected_sample"][:20]:
        lines.append(
            f"  rejected row {rejected['row']} ({rejected['customer_id']}): "
            + "; ".join(rejected["reasons"])
        )
    if summary["rows_rejected"] > 20:
        lines.append(f"  ... {summary['rows_rejected'] - 20:,} more")
    logged = summary.get("mlflow")
    lines.append(_mlflow_line(logged, "the results are in the store") or "")
    return [line for line in lines if line]
