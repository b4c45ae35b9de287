"""`churn-train` arguments and early exits, in process (nothing trained, nothing served)."""

from __future__ import annotations

import pytest

from churn_training import cli


def test_flags_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHURN_TRIALS", "7")
    monkeypatch.setenv("CHURN_SEED", "9")
    args = cli.parse_args(["--trials", "3", "--offer-cost", "20", "--saved-value", "300"])
    settings = cli.build_settings(args)
    assert settings.trials == 3 and settings.seed == 9
    assert settings.offer_cost == 20.0 and settings.saved_customer_value == 300.0


def test_no_publish_needs_a_model_dir(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--no-publish"]) == cli.EXIT_DATA
    assert "--no-publish needs --model-dir" in capsys.readouterr().err


def test_unreachable_tracking_server_fails_before_the_data_is_read(
    capsys: pytest.CaptureFixture[str], tmp_path
) -> None:
    code = cli.main(
        ["--data", str(tmp_path / "never-read.csv"), "--tracking-uri", "http://127.0.0.1:9"]
    )
    err = capsys.readouterr().err
    assert code == cli.EXIT_MLFLOW
    assert "not reachable" in err and "does not exist" not in err


def test_rollback_takes_the_tracking_uri_before_or_after_the_command() -> None:
    before = cli.parse_args(["--quiet", "--tracking-uri", "http://a", "rollback"])
    after = cli.parse_args(["--quiet", "rollback", "--tracking-uri", "http://b", "--reason", "x"])
    assert (before.command, before.tracking_uri, before.reason) == (
        "rollback",
        "http://a",
        "manual rollback",
    )
    assert (after.command, after.tracking_uri, after.reason) == ("rollback", "http://b", "x")
    assert cli.parse_args(["--data", "x.csv"]).command is None
