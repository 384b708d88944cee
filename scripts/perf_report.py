#!/usr/bin/env python3
"""Render a `domainflow perf-test --json` report as the Markdown tables of BENCHMARKS.md
(standard library only), so the published figures are exactly the measured ones.

    python3 scripts/perf_report.py perf.json > docs/perf-tables.md
"""
import json
import sys
from collections import defaultdict

MIB = 1048576.0


def ms(value):
    return "-" if value is None else f"{value:.2f}"


def main(src):
    r = json.load(open(src))
    out = []
    say = out.append
    server = r.get("server", {})
    say(f"Backend {r['backend']}, {r['rows']:,} generated domains; server "
        + ("in a process of its own" if server.get("separate_process") else "in the perf-test process")
        + f"; {r['requests_per_point']} timed requests per depth point.\n")

    say("### Cursor vs OFFSET by depth\n")
    say("| page | OFFSET SQL ms | keyset SQL ms | keyset page over HTTP ms | OFFSET / keyset |")
    say("|---|---|---|---|---|")
    for p in r["offset_baseline"]:
        ratio = p["offset_sql_ms"] / max(p["keyset_sql_ms"], 1e-6)
        say(f"| {p['page']:,} | {p['offset_sql_ms']:.2f} | {p['keyset_sql_ms']:.2f} | {p['keyset_http_ms']:.2f} | {ratio:,.0f}× |")

    say("\n### Depth points (p50 ms without / with totalCount)\n")
    rows = defaultdict(dict)
    for p in r["points"]:
        rows[(p["connection"], p["filter"])].setdefault(p["depth"], {})[p["total_count"]] = p["p50_ms"]
    say("| connection, filter | depth: p50 without / with totalCount |")
    say("|---|---|")
    for (conn, flt), depths in rows.items():
        cells = ", ".join(f"{d:,}: {ms(v.get(False))} / {ms(v.get(True))}" for d, v in sorted(depths.items()))
        say(f"| {conn} {flt if flt != '-' else ''} | {cells} |")

    say("\n### Cursor walks (pages of 50 over HTTP)\n")
    say("| direction | pages | p50 ms | p95 ms | p99 ms | first 100 p50 | last 100 p50 | last / first |")
    say("|---|---|---|---|---|---|---|---|")
    for w in r["walks"]:
        say(f"| {w['direction']} | {w['pages']} | {w['p50_ms']:.2f} | {w['p95_ms']:.2f} | {w['p99_ms']:.2f} | "
            f"{w['first_100_p50_ms']:.2f} | {w['last_100_p50_ms']:.2f} | {w['deepest_over_first']:.2f}× |")

    datasets = r.get("datasets", [])
    if datasets:
        say("\n### Large dataset handling (every connection × ordering × direction × filter)\n")
        say("p50 ms of the first page, the next (after its end cursor), the last (`last: 50`) and the one "
            "before it; every page checked for size, pageInfo and totalCount against SQL `count(*)`.\n")
        by_set = defaultdict(list)
        for d in datasets:
            by_set[d["dataset"]].append(d)
        say("| dataset | shapes | slowest window p50 ms (median over shapes) | slowest window p50 ms (max) | shape with the max |")
        say("|---|---|---|---|---|")
        for name, items in by_set.items():
            slow = sorted(items, key=lambda d: d["slowest_p50_ms"])
            median = slow[len(slow) // 2]["slowest_p50_ms"]
            say(f"| {name} | {len(items)} | {median:.2f} | {slow[-1]['slowest_p50_ms']:.2f} | {slow[-1]['shape']} |")
        big = max(by_set, key=lambda k: max(d["rows"] for d in by_set[k]))
        say(f"\n<details><summary>Every shape on the {big} campaign</summary>\n")
        say("| shape | rows | first | next | last | previous |")
        say("|---|---|---|---|---|---|")
        for d in by_set[big]:
            say(f"| {d['shape']} | {d['rows']:,} | {ms(d['first_page_ms'])} | {ms(d['next_page_ms'])} | "
                f"{ms(d['last_page_ms'])} | {ms(d['previous_page_ms'])} |")
        say("\n</details>")

    plans = r.get("index_usage", [])
    if plans:
        bad = [p for p in plans if p["problems"] or p["index_scans"] == 0]
        buffers = [p["shared_hit_blocks"] + p["shared_read_blocks"] for p in plans
                   if p.get("shared_hit_blocks") is not None and p.get("shared_read_blocks") is not None]
        say("\n### Index usage (EXPLAIN ANALYZE, BUFFERS of the generic plan, real cursors)\n")
        say(f"{len(plans)} plans (every shape × first / first+after / last / last+before); "
            f"{len(plans) - len(bad)} index range scans without a sort, {len(bad)} failing.")
        if buffers:
            buffers.sort()
            say(f" Buffers per page: median {buffers[len(buffers) // 2]}, max {buffers[-1]}.")
        execution = sorted(p["execution_ms"] for p in plans if p.get("execution_ms") is not None)
        if execution:
            say(f" Execution time in the database: median {execution[len(execution) // 2]:.3f} ms, "
                f"max {execution[-1]:.3f} ms.")
        say("")

    say("\n### Concurrent access, soak and memory\n")
    say("| run | users | requests | errors | req/s | p50 ms | p95 ms | p99 ms | max ms | pool in use ≤ | waits | acquire timeouts |")
    say("|---|---|---|---|---|---|---|---|---|---|---|---|")
    loads = list(r["load"])
    if r.get("soak"):
        loads.append(r["soak"]["load"])
    for l in loads:
        pool = l.get("pool") or {}
        say(f"| {l['label']} | {l['users']} | {l['requests']:,} | {l['errors']} | {l['requests_per_second']:.0f} | "
            f"{l['p50_ms']:.2f} | {l['p95_ms']:.2f} | {l['p99_ms']:.2f} | {l['max_ms']:.2f} | "
            f"{pool.get('max_in_use', '-')}/{pool.get('configured_max', '-')} | {pool.get('waits', '-')} | "
            f"{pool.get('acquire_timeouts', '-')} |")
    mem = r.get("memory")
    if mem:
        samples = " → ".join(f"{b / MIB:.1f}" for b in mem.get("rss_samples_bytes", []))
        say(f"\nMemory stability: {mem['requests']:,} requests after warm-up, server RSS {samples} MiB "
            f"({mem['growth_percent']:+.1f} %), {mem['errors']} errors.")
    if r.get("soak"):
        s = r["soak"]
        samples = " → ".join(f"{b / MIB:.1f}" for b in s.get("rss_samples_bytes", [s["rss_before_bytes"], s["rss_after_bytes"]]))
        say(f"Soak: server RSS every tenth of the run {samples} MiB "
            f"({s['growth_percent']:+.1f} % over the second half).")
    if r.get("export"):
        e = r["export"]
        say(f"Export (CSV, whole campaign, `/export`): {e['rows']:,} rows of {e['total_count']:,} "
            f"({e['bytes'] / MIB:.1f} MiB) in {e['seconds']:.1f} s, {e['rows_per_second']:,.0f} rows/s; server RSS "
            f"{e['rss_before_bytes'] / MIB:.1f} → peak {e['rss_peak_bytes'] / MIB:.1f} → {e['rss_after_bytes'] / MIB:.1f} MiB.")
    if server:
        say(f"Server at the end: RSS {server['rss_bytes'] / MIB:.1f} MiB, peak {server['peak_rss_bytes'] / MIB:.1f} MiB.")

    say("\n### Targets missed\n")
    if r["failures"]:
        for f in r["failures"]:
            say(f"- {f}")
    else:
        say("None: every target met.")
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
