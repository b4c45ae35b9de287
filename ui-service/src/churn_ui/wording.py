"""Plain-words labels and formatting for business users (no model knowledge, only vocabulary)."""

from __future__ import annotations

import re

from churn_ui.api.models import FieldSpec, Reason, Scalar

# Known dataset columns get friendly labels; a field the UI has never seen falls back to its
# name split into words, so a new model field still renders sensibly.
FIELD_LABELS: dict[str, str] = {
    "customerID": "Customer ID",
    "gender": "Gender",
    "SeniorCitizen": "Senior citizen (65+)",
    "Partner": "Has a partner",
    "Dependents": "Has dependents",
    "tenure": "Months as a customer",
    "PhoneService": "Phone service",
    "MultipleLines": "Multiple phone lines",
    "InternetService": "Internet service",
    "OnlineSecurity": "Online security",
    "OnlineBackup": "Online backup",
    "DeviceProtection": "Device protection",
    "TechSupport": "Tech support",
    "StreamingTV": "Streaming TV",
    "StreamingMovies": "Streaming movies",
    "Contract": "Contract",
    "PaperlessBilling": "Paperless billing",
    "PaymentMethod": "Payment method",
    "MonthlyCharges": "Monthly charges",
    "TotalCharges": "Total charged so far",
}
MONEY_FIELDS = frozenset({"MonthlyCharges", "TotalCharges"})
GROUP_TITLES: dict[str, str] = {
    "account": "Account",
    "services": "Services",
    "billing": "Billing",
}
BAND_COLORS: dict[str, str] = {"low": "#2e7d32", "medium": "#f9a825", "high": "#c62828"}
RAISES_COLOR = "#c62828"
LOWERS_COLOR = "#2e7d32"


def label(field: str) -> str:
    """A person-friendly name for a field."""
    if field in FIELD_LABELS:
        return FIELD_LABELS[field]
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", field).replace("_", " ").strip()
    return words[:1].upper() + words[1:].lower()


def group_title(group: str) -> str:
    """The heading of a form group."""
    return GROUP_TITLES.get(group, group.replace("_", " ").title())


def value_text(field: str, value: Scalar, spec: FieldSpec | None = None) -> str:
    """A field value as a person reads it (0/1 flags as No/Yes, money with a currency sign)."""
    if value is None or value == "":
        return "not given"
    if (spec is not None and spec.categories == [0, 1]) or field == "SeniorCitizen":
        return {0: "No", 1: "Yes"}.get(value, str(value))  # type: ignore[call-overload]
    if field in MONEY_FIELDS and isinstance(value, int | float):
        return money(float(value))
    if field == "tenure" and isinstance(value, int | float):
        months = int(value)
        return f"{months} month" + ("" if months == 1 else "s")
    return str(value)


def reason_text(reason: Reason) -> str:
    """E.g. 'Contract: Month-to-month raises the risk'."""
    verb = "raises" if reason.effect == "raises" else "lowers"
    return f"{label(reason.field)}: {value_text(reason.field, reason.value)} {verb} the risk"


def band_text(band: str) -> str:
    """'high' -> 'High risk'."""
    return f"{band.capitalize()} risk"


def pct(probability: float, digits: int = 1) -> str:
    """0.6123 -> '61.2%'."""
    return f"{probability * 100:.{digits}f}%"


def money(amount: float) -> str:
    """41.5 -> '$41.50', -50 -> '-$50.00'."""
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def decision_text(probability: float, threshold: float) -> str:
    """The action the model recommends at its threshold, in plain words."""
    if probability >= threshold:
        return f"At or above the {pct(threshold, 0)} action threshold: recommend a retention offer."
    return f"Below the {pct(threshold, 0)} action threshold: no retention offer needed."


# Inline markdown only (the text never starts a line): emphasis, code, links, HTML, formulas,
# and `:` so that a bare URL is not turned into a link.
_MARKDOWN = re.compile(r"([\\`*_\[\]()|<>~$:])")


def plain(text: str) -> str:
    """`text` shown literally inside a line of Streamlit markdown: a customer ID from a link such
    as `[pay here](https://...)` must not render as a link, emphasis or formula."""
    return _MARKDOWN.sub(r"\\\1", text)


def named(field: str) -> str:
    """'Months as a customer (tenure)', or just 'Contract' when the label is the name."""
    friendly = label(field)
    return friendly if friendly == field else f"{friendly} ({field})"
