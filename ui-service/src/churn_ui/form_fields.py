"""One input widget per model field (`GET /model`'s input schema), shared by the customer forms."""

from __future__ import annotations

from typing import Any

import streamlit as st

from churn_ui.api.models import FieldSpec, Scalar
from churn_ui.wording import label, value_text


def field_widget(spec: FieldSpec, value: Scalar, key: str, *, allow_empty: bool = False) -> Any:
    """A select box for a categorical field, a number input for a numeric one, set to `value`.

    `allow_empty`: a value that is not given stays empty (None) instead of the first option, so
    a stored customer's missing value is not silently replaced.
    """
    help_text = spec.description or None
    if spec.kind == "categorical" and spec.categories:
        options = list(spec.categories)
        index = options.index(value) if value in options else (None if allow_empty else 0)
        return st.selectbox(
            label(spec.name),
            options,
            index=index,
            key=key,
            help=help_text,
            format_func=lambda v, name=spec.name: value_text(name, v),
        )
    integer = spec.dtype == "integer"
    cast = int if integer else float
    return st.number_input(
        label(spec.name),
        min_value=cast(spec.minimum) if spec.minimum is not None else None,
        max_value=cast(spec.maximum) if spec.maximum is not None else None,
        value=cast(value) if isinstance(value, int | float) else None,
        step=cast(1),
        format=None if integer else "%.2f",
        key=key,
        help=help_text,
    )
