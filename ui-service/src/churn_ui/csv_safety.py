"""CSV cells a spreadsheet would execute, neutralised before a file leaves the UI.

OWASP's CSV-injection guidance: a text cell starting with `=`, `+`, `-`, `@`, tab or carriage
return is read as a formula by Excel, LibreOffice and Google Sheets (`=HYPERLINK(...)`,
`@SUM(1)`, `+1+1`). Such a cell gets a leading single quote, which the spreadsheet shows as
text. Spreadsheets trim leading spaces, so `  =1+1` counts too. Text fields are also quoted
(OWASP: a `;` inside a cell must not split it for a locale that uses `;` as the separator).
"""

from __future__ import annotations

import csv
import re

import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

FORMULA_START = ("=", "+", "-", "@")
CONTROL_START = ("\t", "\r")
# A cell that is only a number (`-5`, `+1.5`, `2e3`) is a value to a spreadsheet, not a formula.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# Text starting with an ASCII letter or digit cannot be dangerous: only the rest is checked.
_SAFE_START = r"[A-Za-z0-9]"


def neutralise_text(text: str) -> str:
    """`text` as a spreadsheet may safely read it: formula-like text gets a leading `'`."""
    if _PLAIN_NUMBER.fullmatch(text):
        return text
    if text.startswith(CONTROL_START) or text.lstrip().startswith(FORMULA_START):
        return "'" + text
    return text


def neutralise(value: object) -> object:
    """A cell neutralised if it is text; numbers, booleans, None, NaN and pd.NA stay as they are."""
    return neutralise_text(value) if isinstance(value, str) else value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text cell and every header neutralised; numeric columns untouched."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if is_numeric_dtype(series.dtype) or is_bool_dtype(series.dtype):
            continue
        try:
            check = ~series.str.match(_SAFE_START, na=True).astype(bool)
        except AttributeError:  # an object column without any text
            continue
        if check.any():
            out.loc[check, column] = series[check].map(neutralise)
    out.columns = [neutralise_text(str(c)) for c in out.columns]
    return out


def safe_csv(frame: pd.DataFrame) -> bytes:
    """The frame as UTF-8 CSV for a spreadsheet: cells neutralised, text fields quoted."""
    text = neutralise_frame(frame).to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC)
    return text.encode("utf-8")
