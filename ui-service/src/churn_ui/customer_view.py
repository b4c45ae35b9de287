"""The Customer page's logic without Streamlit: attributes, history, and the what-if overrides."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

import pandas as pd

from churn_ui.api.models import CustomerRecord, FieldSpec, Scalar, WhatIf
from churn_ui.wording import band_text, label, money, value_text

# The API's own limit on an ID (customers.customer_id is String(64)); control characters are
# refused before a request is made, so a pasted line break never reaches the URL.
MAX_ID_LENGTH = 64
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_id(raw: str | None) -> str | None:
    """A customer ID as typed or taken from `?customer=`: trimmed; None if empty."""
    if raw is None:
        return None
    text = raw.strip()
    return text or None


def id_problem(customer_id: str) -> str | None:
    """Why `customer_id` cannot be looked up (None when it can)."""
    if len(customer_id) > MAX_ID_LENGTH:
        return f"A customer ID has at most {MAX_ID_LENGTH} characters."
    if _CONTROL.search(customer_id):
        return "A customer ID cannot contain control characters (tabs, line breaks)."
    return None


def attribute_rows(record: CustomerRecord, fields: list[FieldSpec]) -> pd.DataFrame:
    """The stored attributes as 'Field / Value' rows: model fields first, in the model's order."""
    specs = {f.name: f for f in fields}
    names = [f.name for f in fields if f.name in record.attributes]
    names += [n for n in record.attributes if n not in specs]
    return pd.DataFrame(
        {
            "Field": [label(n) for n in names],
            "Value": [value_text(n, record.attributes[n], specs.get(n)) for n in names],
        }
    )


def value_caption(record: CustomerRecord) -> str:
    """The customer's value and where it comes from, in plain words."""
    if record.customer_value is None:
        return "Customer value: not known."
    source = record.value_source or "not stated"
    if source == "12 x MonthlyCharges":
        source = "estimated as 12 × monthly charges"
    return f"Customer value {money(record.customer_value)} ({source})."


def when_text(stamp: str | None) -> str:
    """An ISO timestamp as a person reads it, in UTC: '2026-11-30 09:21 UTC'."""
    if not stamp:
        return "not known"
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def history_frame(record: CustomerRecord) -> pd.DataFrame:
    """The score history, newest first, as a table."""
    return pd.DataFrame(
        {
            "Snapshot": [h.snapshot_date for h in record.history],
            "Scored at": [when_text(h.scored_at) for h in record.history],
            "Churn probability": [h.churn_probability for h in record.history],
            "Risk band": [band_text(h.risk_band) for h in record.history],
            "Expected value": [h.expected_value for h in record.history],
            "Model version": [h.model.version for h in record.history],
        }
    )


def same_value(stored: Scalar, edited: Scalar) -> bool:
    """Whether a form value still equals the stored one (numbers compared as numbers)."""
    if isinstance(stored, bool) or isinstance(edited, bool):
        return type(stored) is type(edited) and stored == edited
    if isinstance(stored, int | float) and isinstance(edited, int | float):
        return math.isclose(float(stored), float(edited), rel_tol=1e-9, abs_tol=1e-9)
    return stored == edited


def overrides(attributes: dict[str, Scalar], edited: dict[str, Scalar]) -> dict[str, Scalar]:
    """Only the fields the user changed, with their new values (what the what-if sends)."""
    return {
        name: value for name, value in edited.items() if not same_value(attributes.get(name), value)
    }


def change_text(changes: dict[str, Scalar]) -> str:
    """E.g. 'Contract = One year, Months as a customer = 24 months'."""
    return ", ".join(f"{label(k)} = {value_text(k, v)}" for k, v in changes.items())


def delta_text(result: WhatIf) -> str:
    """The change of churn probability in percentage points, e.g. '-12.3 points'."""
    return f"{result.delta * 100:+.1f} points"


def value_delta_text(result: WhatIf) -> str:
    """The change of the offer's expected value, e.g. '+$4.20'."""
    change = result.what_if.expected_value - result.baseline.expected_value
    return ("+" if change >= 0 else "") + money(change)
