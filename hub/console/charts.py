"""Small charts drawn on the server as SVG.

Why server-side SVG: no charting library to ship or to trust, no script (the console's
Content-Security-Policy forbids inline script anyway), and the chart is part of the HTML a
screenshot or a printed page keeps. Every label is escaped: route, endpoint and partner names
end up here.
"""

from __future__ import annotations

from markupsafe import Markup, escape


def hourly(buckets: list[tuple[str, int, int]], *, width: int = 720, height: int = 150) -> Markup:
    """Paired bars per hour: messages in (blue) and documents delivered (green)."""
    if not buckets:
        return Markup("")
    top = max(1, *(max(i, o) for _, i, o in buckets))
    left, bottom = 34, 18
    slot = (width - left) / len(buckets)
    bar = max(1.0, slot / 2 - 1)
    scale = (height - bottom - 6) / top
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'aria-label="messages in and documents delivered per hour">']
    for tick in (0, top // 2, top):
        y = height - bottom - tick * scale
        parts.append(f'<text x="0" y="{y + 3:.1f}">{tick}</text>'
                     f'<line x1="{left - 3}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e7ee"/>')
    for n, (label, into, out) in enumerate(buckets):
        x = left + n * slot
        for k, (value, css) in enumerate(((into, "bar-in"), (out, "bar-out"))):
            h = value * scale
            parts.append(f'<rect class="{css}" x="{x + k * bar:.1f}" y="{height - bottom - h:.1f}" width="{bar:.1f}" '
                         f'height="{h:.1f}"><title>{escape(label)}: {value} {"in" if k == 0 else "delivered"}'
                         f'</title></rect>')
        if n % max(1, len(buckets) // 8) == 0:
            parts.append(f'<text x="{x:.1f}" y="{height - 4}">{escape(label[-5:])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bars(rows: list[tuple[str, int]], *, width: int = 360, row: int = 18) -> Markup:
    """Horizontal bars, one per labelled count (messages per route, letters per queue …)."""
    if not rows:
        return Markup('<p class="muted">none</p>')
    top = max(1, *(v for _, v in rows))
    label_w = 150
    height = row * len(rows) + 4
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             'aria-label="counts">']
    for n, (label, value) in enumerate(rows):
        y = n * row + 2
        w = (width - label_w - 50) * value / top
        text = label if len(label) <= 24 else label[:23] + "…"
        parts.append(f'<text x="0" y="{y + 12}">{escape(text)}</text>'
                     f'<rect class="bar-in" x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row - 6}">'
                     f'<title>{escape(label)}: {value}</title></rect>'
                     f'<text x="{label_w + w + 4:.1f}" y="{y + 12}">{value:,}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
