"""The Prometheus alert rules (docker/monitoring/alerts.yml): they load (`promtool check`), and
each alert fires on the series that mean it and stays quiet on the others (`promtool test rules`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "docker" / "monitoring"
RULES = MONITORING / "alerts.yml"
API = 'job="churn-api",instance="api:8000"'


def promtool() -> str:
    """promtool's path, from Debian's `prometheus` package (installed when we are root)."""
    if shutil.which("promtool") is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "prometheus"]
        if subprocess.run(install, env=env, capture_output=True, check=False).returncode:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
            subprocess.run(install, env=env, capture_output=True, check=False)
    path = shutil.which("promtool")
    if path is None:
        pytest.skip(
            "promtool is missing and cannot be installed without root: "
            "`apt-get install prometheus` (Debian) brings it"
        )
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, check=False)


def test_the_rules_and_the_config_that_loads_them_are_valid() -> None:
    rules = run("check", "rules", str(RULES))
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "SUCCESS: 8 rules found" in rules.stdout
    config = run("check", "config", str(MONITORING / "prometheus.yml"))
    assert config.returncode == 0, config.stdout + config.stderr
    assert "1 rule files found" in config.stdout


def test_compose_mounts_the_rules_beside_the_config() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "./docker/monitoring/alerts.yml:/etc/prometheus/alerts.yml:ro" in compose
    assert "- alerts.yml" in (MONITORING / "prometheus.yml").read_text()


def series(name: str, labels: str, values: str) -> dict[str, str]:
    return {"series": f"{name}{{{labels}}}", "values": values}


def alert(name: str, at: str, *expected: tuple[dict[str, str], str]) -> dict[str, Any]:
    """The alerts `name` expected firing at `at`: their labels and summary (and runbook)."""
    runbook = f"docs/monitoring.md#{name.lower()}"
    return {
        "eval_time": at,
        "alertname": name,
        "exp_alerts": [
            {"exp_labels": labels, "exp_annotations": {"summary": summary, "runbook": runbook}}
            for labels, summary in expected
        ],
    }


# One promtool unit test per meaning: the series a situation produces, and the alerts (labels
# and the summary an operator reads) expected at a time; none expected = quiet.
NOT_READY = "The API serves no verified model (or is not scraped)"
CASES: dict[str, dict[str, Any]] = {
    "a drifted field fires after 15 minutes, live and batch apart": {
        "input_series": [
            series("churn_feature_psi", f'{API},field="Contract"', "0.35x40"),
            series("churn_feature_psi", f'{API},field="tenure"', "0.15x40"),  # watch only
            series("churn_batch_feature_psi", f'{API},field="MonthlyCharges"', "0.5x40"),
            series("churn_batch_feature_psi", f'{API},field="gender"', "0.01x40"),
        ],
        "alert_rule_test": [
            alert("FeatureDrift", "10m"),  # pending: not for 15 minutes yet
            alert(
                "FeatureDrift",
                "20m",
                (
                    {"severity": "warning", "source": "live", "field": "Contract"},
                    "Field Contract drifted from the training data (live PSI 0.35 > 0.2)",
                ),
                (
                    {"severity": "warning", "source": "batch", "field": "MonthlyCharges"},
                    "Field MonthlyCharges drifted from the training data "
                    "(last churn-score run, PSI 0.50 > 0.2)",
                ),
            ),
        ],
    },
    "the score's PSI over 0.1 fires, under it does not": {
        "input_series": [
            series("churn_score_psi", API, "0.08x40"),
            series("churn_batch_score_psi", API, "0.13x40"),
        ],
        "alert_rule_test": [
            alert(
                "ScoreDrift",
                "20m",
                (
                    {"severity": "warning", "source": "batch"},
                    "The churn score distribution moved (last churn-score run, PSI 0.13 > 0.1)",
                ),
            ),
        ],
    },
    "a live score PSI that is NaN (too few rows) never fires": {
        "input_series": [series("churn_score_psi", API, " ".join(["NaN"] * 40))],
        "alert_rule_test": [alert("ScoreDrift", "30m")],
    },
    "the served model's realized ROC-AUC more than 0.05 under its holdout fires": {
        "input_series": [
            series("churn_holdout_roc_auc", f'{API},model_version="4"', "0.84x40"),
            series("churn_realized_roc_auc", f'{API},model_version="4"', "0.77x40"),
            # An older version, no longer served: no holdout gauge, nothing to compare.
            series("churn_realized_roc_auc", f'{API},model_version="3"', "0.70x40"),
        ],
        "alert_rule_test": [
            alert(
                "RealizedPerformanceDrop",
                "20m",
                (
                    {"severity": "critical", "model_version": "4"},
                    "Model 4: realized ROC-AUC 0.770 is more than 0.05 below the training holdout",
                ),
            )
        ],
    },
    "a realized ROC-AUC within 0.05 of the holdout is quiet": {
        "input_series": [
            series("churn_holdout_roc_auc", f'{API},model_version="4"', "0.84x40"),
            series("churn_realized_roc_auc", f'{API},model_version="4"', "0.80x40"),
        ],
        "alert_rule_test": [alert("RealizedPerformanceDrop", "30m")],
    },
    "no model loaded for 5 minutes fires; a loaded one does not": {
        "input_series": [series("churn_api_model_ready", API, "0x10 1x30")],
        "alert_rule_test": [
            alert("ModelNotReady", "7m", ({"severity": "critical"}, NOT_READY)),
            alert("ModelNotReady", "25m"),
        ],
    },
    "no API scraped at all is not ready either": {
        "input_series": [series("up", API, "0x20")],
        "alert_rule_test": [alert("ModelNotReady", "10m", ({"severity": "critical"}, NOT_READY))],
    },
    "a model trained 40 days ago is stale, one trained 10 days ago is not": {
        # promtool's clock starts at the Unix epoch: a training time before it is an age.
        "input_series": [
            series("churn_model_trained_timestamp_seconds", API, f"{-40 * 86400}x100"),
        ],
        "alert_rule_test": [
            alert(
                "ModelStale",
                "90m",
                (
                    {"severity": "warning", "reason": "age"},
                    "The served model was trained 40 days ago (> 30)",
                ),
            )
        ],
    },
    "a recent model is not stale": {
        "input_series": [
            series("churn_model_trained_timestamp_seconds", API, f"{-10 * 86400}x100"),
            series("churn_api_model_stale", API, "0x100"),
        ],
        "alert_rule_test": [alert("ModelStale", "90m")],
    },
    "an alias MLflow cannot confirm for 30 minutes is stale": {
        "input_series": [series("churn_api_model_stale", API, "1x60")],
        "alert_rule_test": [
            alert("ModelStale", "20m"),
            alert(
                "ModelStale",
                "40m",
                (
                    {"severity": "warning", "reason": "registry"},
                    "The API could not confirm the champion alias with MLflow for 30 minutes",
                ),
            ),
        ],
    },
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_alert_fires_on_what_it_means(case: str, tmp_path: Path) -> None:
    spec = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [{"name": case, "interval": "1m", **CASES[case]}],
    }
    tests = tmp_path / "alerts_test.yml"
    tests.write_text(json.dumps(spec))  # JSON is YAML
    result = run("test", "rules", str(tests))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dashboard_shows_what_the_alerts_watch() -> None:
    dashboard = json.loads((MONITORING / "grafana" / "dashboards" / "telco-churn.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p.get("targets", []))
    for metric in (
        "churn_feature_psi",
        "churn_batch_feature_psi",
        "churn_score_psi",
        "churn_batch_score_psi",
        "churn_realized_roc_auc",
        "churn_holdout_roc_auc",
        "churn_model_trained_timestamp_seconds",
        "churn_unseen_category_total",
    ):
        assert metric in exprs, metric
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
