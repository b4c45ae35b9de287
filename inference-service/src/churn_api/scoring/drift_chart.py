"""An SVG bar chart of a run's most drifted fields, drawn by hand (no plotting library in
churn_api): one bar per field by PSI, the watch and drift thresholds as lines."""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

from churn_api.drift import FIELD_PSI_DRIFT, FIELD_PSI_WATCH, FieldDrift

WIDTH, BAR, GAP, LEFT, RIGHT, TOP = 640, 18, 6, 170, 70, 40
COLORS = {"ok": "#4c78a8", "watch": "#f2a93b", "drift": "#d62728"}


def most_drifted(rows: Sequence[FieldDrift], top: int = 10) -> list[FieldDrift]:
    """The `top` fields with the highest PSI (fields without a PSI last, left out)."""
    ranked = sorted((r for r in rows if r.psi is not None), key=lambda r: (-(r.psi or 0), r.field))
    return ranked[:top]


def drift_svg(rows: Sequence[FieldDrift], score_psi: float | None, title: str) -> str:
    """The chart as SVG text; every label escaped."""
    shown = most_drifted(rows)
    height = TOP + max(len(shown), 1) * (BAR + GAP) + 40
    plot = WIDTH - LEFT - RIGHT
    top_psi = max([FIELD_PSI_DRIFT * 1.5, *(r.psi or 0.0 for r in shown)])

    def x(value: float) -> float:
        return LEFT + plot * min(value, top_psi) / top_psi

    score = "n/a" if score_psi is None else f"{score_psi:.3f}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        f'<text x="10" y="18" font-size="14" font-weight="bold">{escape(title)}</text>',
        f'<text x="10" y="33" fill="#555">PSI per field (most drifted first); '
        f"score PSI {escape(score)}</text>",
    ]
    if not shown:
        parts.append(f'<text x="{LEFT}" y="{TOP + BAR}">no field could be compared</text>')
    for i, row in enumerate(shown):
        y = TOP + i * (BAR + GAP)
        psi = row.psi or 0.0
        color = COLORS[row.status]
        parts += [
            f'<text x="{LEFT - 6}" y="{y + BAR - 5}" text-anchor="end">{escape(row.field)}</text>',
            f'<rect x="{LEFT}" y="{y}" width="{x(psi) - LEFT:.1f}" height="{BAR}" '
            f'fill="{color}"><title>{escape(row.field)}: {psi:.4f}</title></rect>',
            f'<text x="{x(psi) + 4:.1f}" y="{y + BAR - 5}">{psi:.3f}</text>',
        ]
    bottom = TOP + max(len(shown), 1) * (BAR + GAP)
    for value, label in ((FIELD_PSI_WATCH, "watch"), (FIELD_PSI_DRIFT, "drift")):
        parts += [
            f'<line x1="{x(value):.1f}" y1="{TOP - 4}" x2="{x(value):.1f}" y2="{bottom}" '
            f'stroke="#333" stroke-dasharray="4 3"/>',
            f'<text x="{x(value):.1f}" y="{bottom + 14}" text-anchor="middle">'
            f"{label} {value:g}</text>",
        ]
    parts.append("</svg>")
    return "\n".join(parts)
