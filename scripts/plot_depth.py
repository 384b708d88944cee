#!/usr/bin/env python3
"""Plot page latency by depth, cursor (keyset) vs OFFSET, from a `domainflow perf-test --json`
report, as a self-contained SVG (no plotting library needed).

    python3 scripts/plot_depth.py perf.json docs/latency-by-depth.svg
"""
import json
import math
import sys


def main(src, dst):
    report = json.load(open(src))
    points = report["offset_baseline"]
    series = [
        ("OFFSET (SQL)", "#d1495b", [(p["page"], p["offset_sql_ms"]) for p in points]),
        ("keyset (SQL)", "#00798c", [(p["page"], p["keyset_sql_ms"]) for p in points]),
        ("keyset page over HTTP (GraphQL)", "#edae49", [(p["page"], p["keyset_http_ms"]) for p in points]),
    ]
    width, height, left, right, top, bottom = 760, 420, 70, 20, 40, 60
    xs = [x for _, _, pts in series for x, _ in pts]
    ys = [y for _, _, pts in series for _, y in pts if y > 0]
    x_min, x_max = math.log10(min(xs)), math.log10(max(xs))
    y_min, y_max = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))

    def px(x):
        return left + (math.log10(x) - x_min) / max(x_max - x_min, 1e-9) * (width - left - right)

    def py(y):
        return top + (y_max - math.log10(max(y, 1e-9))) / max(y_max - y_min, 1e-9) * (height - top - bottom)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15">'
        f'Page of 50 at increasing depth — {report["rows"]:,} rows, {report["backend"]} (log-log)</text>',
    ]
    for e in range(y_min, y_max + 1):
        y = py(10 ** e)
        out.append(f'<line x1="{left}" y1="{y}" x2="{width - right}" y2="{y}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 8}" y="{y + 4}" text-anchor="end">{10 ** e:g} ms</text>')
    for page in sorted(set(xs)):
        x = px(page)
        out.append(f'<line x1="{x}" y1="{top}" x2="{x}" y2="{height - bottom}" stroke="#eee"/>')
        out.append(f'<text x="{x}" y="{height - bottom + 16}" text-anchor="middle">{page:,}</text>')
    out.append(f'<text x="{width / 2}" y="{height - 18}" text-anchor="middle">page number (log scale)</text>')
    for i, (label, color, pts) in enumerate(series):
        path = " ".join(f"{'M' if j == 0 else 'L'}{px(x):.1f},{py(y):.1f}" for j, (x, y) in enumerate(pts))
        out.append(f'<path d="{path}" fill="none" stroke="{color}" stroke-width="2.5"/>')
        for x, y in pts:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{color}"/>')
        ly = top + 14 + i * 18
        out.append(f'<rect x="{left + 12}" y="{ly - 9}" width="14" height="4" fill="{color}"/>')
        out.append(f'<text x="{left + 32}" y="{ly - 3}">{label}</text>')
    out.append("</svg>")
    open(dst, "w").write("\n".join(out) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: plot_depth.py PERF_JSON OUT_SVG")
    main(sys.argv[1], sys.argv[2])
