"""`--params`: the XGBoost parameters a person may fix instead of the search, checked by name,
type and range before anything is trained."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

JSON_TYPES = {
    dict: "object",
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}
# The most boosting rounds any model gets (the search's early-stopping cap, too).
MAX_ROUNDS = 1000


class ParamsError(ValueError):
    """`--params` is not a JSON object of known parameters with valid values; one line."""


class BoosterParams(BaseModel):
    """The search space's parameters, with the bounds XGBoost accepts (wider than the search)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    max_depth: int | None = Field(default=None, ge=1, le=16)
    learning_rate: float | None = Field(default=None, gt=0, le=1)
    min_child_weight: float | None = Field(default=None, ge=0)
    subsample: float | None = Field(default=None, gt=0, le=1)
    colsample_bytree: float | None = Field(default=None, gt=0, le=1)
    reg_lambda: float | None = Field(default=None, ge=0)
    reg_alpha: float | None = Field(default=None, ge=0)
    gamma: float | None = Field(default=None, ge=0)
    imbalance: Literal["none", "balanced"] | None = None
    n_estimators: int | None = Field(
        default=None, ge=1, le=MAX_ROUNDS, description="exact rounds: no early stopping"
    )


def _problem(error: dict[str, Any]) -> str:
    field = ".".join(str(part) for part in error["loc"]) or "params"
    if error["type"] == "extra_forbidden":
        known = ", ".join(BoosterParams.model_fields)
        return f"unknown parameter {field!r} (known: {known})"
    given = json.dumps(error.get("input"), default=str)
    return f"{field}: {error['msg'].lower()}, got {given}"


def parse_params(text: str) -> dict[str, Any]:
    """The given parameters (only those given), or ParamsError naming each bad key."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParamsError(f"--params is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ParamsError(
            f"--params must be a JSON object such as '{{\"max_depth\": 3}}', "
            f"got a JSON {JSON_TYPES.get(type(raw), type(raw).__name__)}"
        )
    try:
        params = BoosterParams.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_problem(e) for e in exc.errors(include_url=False))  # type: ignore[arg-type]
        raise ParamsError(f"--params: {problems}") from None
    return params.model_dump(exclude_unset=True, exclude_none=True)
