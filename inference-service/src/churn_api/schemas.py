"""Request models generated from the feature contract, and the static response models."""

from __future__ import annotations

import difflib
import math
from typing import Annotated, Any, Literal

import msgspec
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
)

from churn_api.contract import FeatureContract, FieldSpec

ID_MAX_LENGTH = 64
IGNORED_KEYS = ("Churn",)


class InvalidRequestError(Exception):
    """The request failed validation; carries [{"field", "message"}]."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__(errors)
        self.errors = errors


def _blank_to_none(value: Any) -> Any:
    """A blank CSV cell (TotalCharges is " " for new customers) counts as missing."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _number_to_str(value: Any) -> Any:
    """A numeric customer id (as some CSV readers produce) becomes its text."""
    if type(value) is int:
        return str(value)
    return value


def _int_category_from_str(categories: list[Any]) -> Any:
    by_text = {str(c): c for c in categories}

    def convert(value: Any) -> Any:
        if isinstance(value, str):
            return by_text.get(value.strip(), value)
        return value

    return convert


def field_annotation(spec: FieldSpec) -> Any:
    """The optional pydantic type of one field: Literal of the categories or a bounded number."""
    if spec.kind == "categorical":
        assert spec.categories is not None
        literal: Any = Literal[tuple(spec.categories)]  # type: ignore[valid-type]
        if all(isinstance(c, int) for c in spec.categories):
            # A CSV row carries "0"/"1"; accept the text of an integer category.
            return Annotated[
                literal | None, BeforeValidator(_int_category_from_str(spec.categories))
            ]
        return literal | None
    number: Any = int if spec.dtype == "integer" else float
    bounded = Annotated[number, Field(ge=spec.minimum, le=spec.maximum, allow_inf_nan=False)]
    return Annotated[bounded | None, BeforeValidator(_blank_to_none)]


def build_customer_model(contract: FeatureContract) -> type[BaseModel]:
    """One customer: every field optional (missing -> training default), extras forbidden."""
    fields: dict[str, Any] = {
        contract.id_field: (
            Annotated[str | None, BeforeValidator(_number_to_str)],
            Field(
                None,
                max_length=ID_MAX_LENGTH,
                description="Echoed back; never used to score",
                examples=["7590-VHVEG"],
            ),
        )
    }
    for spec in contract.fields:
        allowed = (
            f" Allowed: {', '.join(map(str, spec.categories))}."
            if spec.categories
            else f" Range {spec.minimum:g} to {spec.maximum:g}."
            if spec.minimum is not None and spec.maximum is not None
            else ""
        )
        fields[spec.name] = (
            field_annotation(spec),
            Field(
                None,
                description=_describe(spec, allowed),
                examples=[spec.default],
            ),
        )
    for key in IGNORED_KEYS:
        if key not in fields:
            fields[key] = (Any, Field(None, description="Ignored, so a dataset row posts as is"))
    return create_model(  # type: ignore[call-overload,no-any-return]
        "Customer",
        __config__=ConfigDict(extra="forbid", title="Customer"),
        **fields,
    )


def build_batch_decoder(contract: FeatureContract, max_rows: int) -> msgspec.json.Decoder[Any]:
    """A strict decoder of a whole batch body, for the fast path of /predict/batch.

    It accepts a subset of what the per-row pydantic model does, with the same meaning: exact
    categories, JSON numbers within bounds (ints for integer fields), null or missing, no
    unknown keys, 1 to max_rows rows. Anything else (text numbers, `true`, NaN, a typo) fails
    the whole decode, and the batch then takes the per-row path that names each problem.
    Row fields come in contract order, then the id field, then the ignored keys.
    """
    fields: list[tuple[str, Any, Any]] = []
    for spec in contract.fields:
        if spec.kind == "categorical":
            kind: Any = Literal[tuple(spec.categories or ())]  # type: ignore[valid-type]
        elif spec.dtype == "integer":  # msgspec wants int bounds on an int
            low = None if spec.minimum is None else math.ceil(spec.minimum)
            high = None if spec.maximum is None else math.floor(spec.maximum)
            kind = Annotated[int, msgspec.Meta(ge=low, le=high)]
        else:
            kind = Annotated[float, msgspec.Meta(ge=spec.minimum, le=spec.maximum)]
        fields.append((spec.name, kind | None, None))
    fields.append(
        (contract.id_field, Annotated[str, msgspec.Meta(max_length=ID_MAX_LENGTH)] | None, None)
    )
    fields += [(key, Any, None) for key in IGNORED_KEYS if key not in {f[0] for f in fields}]
    row = msgspec.defstruct("Row", fields, forbid_unknown_fields=True)
    rows = Annotated[list[row], msgspec.Meta(min_length=1, max_length=max_rows)]  # type: ignore[valid-type]
    batch = msgspec.defstruct("Batch", [("customers", rows)], forbid_unknown_fields=True)
    return msgspec.json.Decoder(batch)


def _describe(spec: FieldSpec, allowed: str) -> str:
    text = spec.description.rstrip(".")
    return f"{text}.{allowed} Default when missing: {spec.default}."


def format_errors(
    exc: ValidationError, known_fields: list[str], prefix: tuple[Any, ...] = ()
) -> list[dict[str, str]]:
    """pydantic errors -> [{"field", "message"}], naming typos and never echoing the input."""
    out: list[dict[str, str]] = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = prefix + tuple(err["loc"])
        # Literal/union branches add the type name to loc; keep only the data path.
        path = [str(p) for p in loc if not (isinstance(p, str) and ("[" in p or p in _TYPE_TAGS))]
        field = ".".join(path) or "body"
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            name = str(loc[-1])
            message = f"Unknown field '{name}'"
            close = difflib.get_close_matches(name, known_fields, n=1, cutoff=0.6)
            if close:
                message += f"; did you mean '{close[0]}'?"
        out.append({"field": field, "message": message})
    return out


_TYPE_TAGS = {"int", "float", "str", "bool", "function-before", "function-after", "none"}


_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


def parse_flag(value: str | None, name: str) -> bool:
    """A boolean query parameter as pydantic reads one; InvalidRequestError names it."""
    if value is None:
        return False
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidRequestError(
        body_error("Input should be a valid boolean, unable to interpret input", field=name)
    )


def parse_choice(value: str | None, name: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (the first when absent), as a Literal query parameter reads."""
    if value is None:
        return choices[0]
    if value in choices:
        return value
    quoted = [f"'{c}'" for c in choices]
    allowed = f"{', '.join(quoted[:-1])} or {quoted[-1]}" if len(quoted) > 1 else quoted[0]
    raise InvalidRequestError(body_error(f"Input should be {allowed}", field=name))


def body_error(message: str, field: str = "body") -> list[dict[str, str]]:
    """A single error entry for a body-level problem."""
    return [{"field": field, "message": message}]


class ErrorItem(BaseModel):
    """One problem with the request."""

    field: str = Field(description="The offending field ('body' for the request as a whole)")
    message: str


class ErrorResponse(BaseModel):
    """Every 4xx/503 body."""

    detail: list[ErrorItem] | str


class ModelRef(BaseModel):
    """Which model answered."""

    name: str
    version: str
    alias: str | None


class Reason(BaseModel):
    """One original field's signed contribution to the churn log-odds."""

    field: str
    value: str | int | float
    contribution: float = Field(description="log-odds contribution; positive raises risk")
    effect: Literal["raises", "lowers"]
    text: str


class Prediction(BaseModel):
    """The score of one customer."""

    customerID: str | None
    churn_probability: float = Field(ge=0, le=1, description="calibrated probability of churn")
    churn: bool = Field(description="churn_probability >= threshold")
    threshold: float
    risk_band: str
    expected_value: float = Field(description="expected value of making a retention offer")
    imputed_fields: list[str] = Field(description="fields that were missing and took the default")
    model: ModelRef
    reasons: list[Reason] | None = Field(description="top reasons, only with explain=true")


class BatchRow(BaseModel):
    """The outcome of one input row."""

    row: int = Field(ge=0, description="0-based input position")
    ok: bool
    prediction: Prediction | None
    errors: list[ErrorItem] | None


class BatchResponse(BaseModel):
    """Scores of a batch, one result per input row."""

    model: ModelRef
    count: int
    succeeded: int
    failed: int
    results: list[BatchRow]


class ModelInfo(BaseModel):
    """The model being served."""

    model_config = ConfigDict(protected_namespaces=())

    name: str
    version: str
    alias: str | None
    run_id: str | None
    source: Literal["registry", "cache", "local"]
    loaded_at: str
    trained_at: str | None
    metrics: dict[str, Any]
    threshold: dict[str, Any]
    risk_bands: list[dict[str, Any]]
    input_schema: dict[str, Any]
    stale: bool = Field(description="true when MLflow could not be reached to confirm the alias")
    detail: str | None


class Liveness(BaseModel):
    """GET / body."""

    service: str
    version: str
    status: Literal["ok"]


class Readiness(BaseModel):
    """GET /health/ready body."""

    model_config = ConfigDict(protected_namespaces=())

    ready: bool
    model_version: str | None = None
    detail: str | None = None


class ReloadResponse(BaseModel):
    """POST /admin/reload body."""

    reloaded: bool
    version: str
    previous_version: str | None
    detail: str | None = None
