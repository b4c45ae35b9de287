"""`--params`: every bad value is named in one line and exits 2, before anything is trained."""

from __future__ import annotations

import pytest

from churn_training import cli, tune
from churn_training.params import ParamsError, parse_params

BAD = [
    ('{"n_estimators": "100"}', 'n_estimators: input should be a valid integer, got "100"'),
    ('{"n_estimators": 2.5}', "n_estimators: input should be a valid integer"),
    ('{"n_estimators": true}', "n_estimators: input should be a valid integer, got true"),
    ('{"n_estimators": 0}', "n_estimators: input should be greater than or equal to 1"),
    ('{"max_depth": 0}', "max_depth: input should be greater than or equal to 1, got 0"),
    ('{"learning_rate": 5}', "learning_rate: input should be less than or equal to 1, got 5"),
    ('{"learning_rate": -0.1}', "learning_rate: input should be greater than 0"),
    ('{"subsample": NaN}', "subsample: input should be a finite number"),
    ('{"imbalance": "heavy"}', "imbalance: input should be 'none' or 'balanced'"),
    ('{"eta": 0.1}', "unknown parameter 'eta' (known: max_depth, learning_rate"),
    ('{"max_depth": 3', "--params is not valid JSON"),
    ("[3]", "--params must be a JSON object such as"),
    ('"max_depth=3"', "got a JSON string"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_params_are_named(text: str, message: str) -> None:
    with pytest.raises(ParamsError) as caught:
        parse_params(text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ParamsError) as caught:
        parse_params('{"max_depth": 0, "learning_rate": 5, "colour": "red"}')
    text = str(caught.value)
    assert "max_depth" in text and "learning_rate" in text and "'colour'" in text


def test_good_params_keep_only_what_was_given() -> None:
    given = '{"max_depth": 3, "learning_rate": 1, "min_child_weight": 400, "n_estimators": 20}'
    assert parse_params(given) == {
        "max_depth": 3,
        "learning_rate": 1.0,
        "min_child_weight": 400.0,
        "n_estimators": 20,
    }
    assert parse_params('{"max_depth": null}') == {}
    assert parse_params("{}") == {}


def test_the_search_space_and_default_trial_are_valid_params() -> None:
    assert parse_params(__import__("json").dumps(tune.DEFAULT_TRIAL)) == tune.DEFAULT_TRIAL


@pytest.mark.parametrize("text", ['{"n_estimators": "100"}', "not json", '{"learning_rate": 5}'])
def test_cli_exits_2_with_one_line_and_no_traceback(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # An unreachable server and a missing file: neither is touched before the params are read.
    assert cli.main(["--params", text, "--tracking-uri", "http://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --params") and len(err.splitlines()) == 1
    assert "Traceback" not in err and "not reachable" not in err
