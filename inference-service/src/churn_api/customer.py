"""What a valid customer is, written once: every validator is generated from the feature contract.

Three validators with one meaning (tests/unit/test_customer.py holds them equal):
- the pydantic `Customer` model: /predict, and any batch row the others cannot vouch for; it
  names every problem and reads CSV text ("12", "0"/"1", a blank number);
- the strict msgspec batch decoder: a clean /predict/batch body in one pass;
- the numpy column checks (columns.py): a parsed batch, column by column.
The last two accept only values that the `Customer` model would accept unchanged; everything
else goes to the model, which decides what it means.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import msgspec
import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model
from pydantic_core import PydanticCustomError

from churn_api.columns import CheckedColumns, check_columns
from churn_api.contract import FeatureContract, FieldSpec
from churn_api.errors import InvalidRequestError
from churn_api.large_body import LargeBodyValidator
from churn_api.limits import Limits, Reporter, Suggester

ID_MAX_LENGTH = 64
IGNORED_KEYS = ("Churn",)
IgnoredValue = str | int | float | bool | None  # a dataset row's label; never an array/object


class CustomerValidator:
    """The `Customer` model, the strict batch decoder and the column checks of one contract."""

    def __init__(
        self, contract: FeatureContract, max_batch_rows: int, limits: Limits | None = None
    ) -> None:
        self.limits = limits or Limits()
        self.specs = contract.fields
        self.field_names = [f.name for f in contract.fields]
        self.id_field = contract.id_field
        self.Customer: type[BaseModel] = build_customer_model(contract)
        self.known_fields = list(self.Customer.model_fields)
        self.allowed_keys = frozenset(self.known_fields)
        self.max_batch_rows = max_batch_rows
        self.batch_decoder = build_batch_decoder(contract, max_batch_rows)
        # A missing field that an imputation rule decides is filled row by row.
        self.ruled_fields = {rule.field for rule in contract.imputation_rules}
        self.suggest = Suggester(self.known_fields)
        self.large = LargeBodyValidator(self.Customer, self.limits, self.reporter)

    def reporter(self) -> Reporter:
        """A problem reporter for one request (its "did you mean" budget spans the request)."""
        return Reporter(self.suggest, self.limits)

    def validate_one(self, body: bytes | str | dict[str, Any]) -> BaseModel:
        """Parse and validate one customer; InvalidRequestError names its problems (at most
        max_problems, then a count). A body over inline_bytes: call validate_large instead."""
        try:
            if isinstance(body, dict):
                return self.Customer.model_validate(body)
            return self.Customer.model_validate_json(body)
        except ValidationError as exc:
            if exc.error_count() > self.limits.max_problems and not isinstance(body, dict):
                return self.large.validate(body)  # raises; also counts the keys
            raise InvalidRequestError(self.reporter().problems(exc)) from None

    def validate_large(self, body: bytes | str) -> BaseModel:
        """validate_one for a body of any size, in bounded time and memory (large_body.py)."""
        return self.large.validate(body)  # type: ignore[no-any-return]

    def validate_row(
        self, raw: Any, reporter: Reporter | None = None
    ) -> dict[str, Any] | list[dict[str, str]]:
        """One batch row's validated values, or its problems."""
        if type(raw) is dict:
            if len(raw) > self.limits.max_keys:
                return self.limits.too_many_keys(len(raw))
            allowed = self.allowed_keys
            unknown = [k for k in raw if k not in allowed]
            if len(unknown) > self.limits.max_problems:
                return (reporter or self.reporter()).unknown_keys(unknown)
        try:
            return self.Customer.model_validate(raw).__dict__
        except ValidationError as exc:
            return (reporter or self.reporter()).problems(exc)

    def check_columns(
        self, columns: Sequence[Sequence[Any]], suspect: np.ndarray
    ) -> CheckedColumns:
        """The column checks of a parsed batch (columns.py); suspect rows go to the model."""
        return check_columns(self.specs, self.ruled_fields, columns, suspect)


def _blank_to_none(value: Any) -> Any:
    """A blank CSV cell (TotalCharges is " " for new customers) counts as missing; a boolean is
    not a number (pydantic would read true as 1)."""
    if isinstance(value, str) and not value.strip():
        return None
    if type(value) is bool:
        raise PydanticCustomError("bool_not_number", "Input should be a number, not a boolean")
    return value


def _scalar(value: Any) -> Any:
    """An ignored key may hold any text, number, boolean or null, not an array or object."""
    if isinstance(value, list | dict):
        raise PydanticCustomError(
            "scalar_type", "Input should be text, a number, a boolean or null"
        )
    return value


def _number_to_str(value: Any) -> Any:
    """A numeric customer id (as some CSV readers produce) becomes its text."""
    if type(value) is int:
        return str(value)
    return value


def _int_category_from_str(categories: list[Any]) -> Any:
    by_text = {str(c): c for c in categories}

    allowed = " or ".join(map(str, categories))

    def convert(value: Any) -> Any:
        if isinstance(value, str):
            return by_text.get(value.strip(), value)
        if type(value) is bool:  # True == 1: pydantic would take it for the category 1
            raise PydanticCustomError(
                "bool_not_category", f"Input should be {allowed}, not a boolean"
            )
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
        description = (
            f"{spec.description.rstrip('.')}.{allowed} Default when missing: {spec.default}."
        )
        fields[spec.name] = (
            field_annotation(spec),
            Field(None, description=description, examples=[spec.default]),
        )
    for key in IGNORED_KEYS:
        if key not in fields:
            fields[key] = (
                Annotated[IgnoredValue, BeforeValidator(_scalar)],
                Field(None, description="Ignored, so a dataset row posts as is"),
            )
    return create_model(  # type: ignore[call-overload,no-any-return]
        "Customer",
        __config__=ConfigDict(extra="forbid", title="Customer"),
        **fields,
    )


def build_batch_decoder(contract: FeatureContract, max_rows: int) -> msgspec.json.Decoder[Any]:
    """A strict decoder of a whole batch body, for the fast path of /predict/batch.

    It accepts a subset of what the `Customer` model does, with the same meaning: exact
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
    fields += [
        (key, IgnoredValue, None) for key in IGNORED_KEYS if key not in {f[0] for f in fields}
    ]
    # Rows hold only scalars, so they can never be in a reference cycle: gc=False leaves the
    # 10,000 of a full batch out of the cyclic GC's lists (which it would walk after the batch).
    row = msgspec.defstruct("Row", fields, forbid_unknown_fields=True, gc=False)
    rows = Annotated[list[row], msgspec.Meta(min_length=1, max_length=max_rows)]  # type: ignore[valid-type]
    batch = msgspec.defstruct("Batch", [("customers", rows)], forbid_unknown_fields=True)
    return msgspec.json.Decoder(batch)
