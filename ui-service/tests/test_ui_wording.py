"""Plain-words labels and formatting."""

from __future__ import annotations

from churn_ui.api.models import Reason
from churn_ui.wording import decision_text, money, named, plain, reason_text, value_text


def test_ui_wording_is_plain() -> None:
    reason = Reason(field="tenure", value=2, contribution=0.5, effect="raises")
    assert reason_text(reason) == "Months as a customer: 2 months raises the risk"
    lowers = Reason(field="Contract", value="Two year", contribution=-0.9, effect="lowers")
    assert reason_text(lowers) == "Contract: Two year lowers the risk"
    assert value_text("SeniorCitizen", 1) == "Yes"
    assert value_text("MonthlyCharges", 70.5) == "$70.50"
    assert money(-50) == "-$50.00"
    assert named("tenure") == "Months as a customer (tenure)" and named("Contract") == "Contract"
    assert named("NewFieldName") == "New field name (NewFieldName)"
    assert "recommend a retention offer" in decision_text(0.37, 0.37)
    assert "no retention offer needed" in decision_text(0.369, 0.37)


def test_ui_plain_shows_markdown_literally() -> None:
    assert plain("7590-VHVEG") == "7590-VHVEG"
    assert plain("[pay](https://x.test/a_b)") == "\\[pay\\]\\(https\\://x.test/a\\_b\\)"
    assert plain("$x$ *y* `z`") == "\\$x\\$ \\*y\\* \\`z\\`"
    assert plain("plain words") == "plain words"
