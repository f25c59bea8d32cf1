"""Bar charts drawn by the server as inline SVG: no script, no CDN, readable on a phone."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD, LABEL, MAX_BAR = 640, 220, 8, 44, 64


def bars(
    labels: Sequence[str], values: Sequence[float], caption: str, rtl: bool = True, shown: Callable[[str], str] = str
) -> Markup:
    """One bar per period, its value on top; right to left on the Persian desk (oldest period on the right)."""
    count = max(1, len(values))
    top = max([v for v in values if v] or [1.0])
    slot = (WIDTH - 2 * PAD) / count
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT + LABEL}" role="img" aria-label="{escape(caption)}"'
        f' xmlns="http://www.w3.org/2000/svg"><title>{escape(caption)}</title>'
    ]
    for i, (name, value) in enumerate(zip(labels, values, strict=True)):
        x = WIDTH - PAD - (i + 1) * slot if rtl else PAD + i * slot
        height = (HEIGHT - 30) * (value / top) if value else 0
        y = HEIGHT - height
        bar = min(slot * 0.7, MAX_BAR)
        parts.append(f'<rect x="{x + (slot - bar) / 2:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}"/>')
        text = escape(shown(_short(value)))
        parts.append(f'<text class="value" x="{x + slot / 2:.1f}" y="{y - 4:.1f}">{text}</text>')
        parts.append(f'<text class="label" x="{x + slot / 2:.1f}" y="{HEIGHT + 18}">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _short(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
