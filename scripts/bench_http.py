#!/usr/bin/env python3
"""HTTP throughput benchmark of the release server (issue 8), driven by wrk on 127.0.0.1.

For each backend (PostgreSQL, SQLite) it starts `target/release/domainflow serve` itself,
finds the 2M-row generation campaign through the API, obtains the cursor of the page at
depth 1,950,000 by walking backwards from the end with `last:` pages (never a forged cursor),
then runs wrk for every case: first page / deep page × without / with totalCount ×
connections. Each case reports req/s, p50/p99 (wrk --latency), the server's CPU time per
request (utime + stime from /proc/PID/stat before and after, divided by the requests wrk
completed) and the server's RSS after the run. Results go to a JSON file and a markdown
table on stdout.

    scripts/bench_http.py                      # PostgreSQL df_bench + SQLite target/bench.db
    scripts/bench_http.py --backends postgres --duration 5 --connections 1,32

`--instructions N` instead runs the server under `valgrind --tool=callgrind` (instrumentation
switched on only while N sequential requests of each case are sent) and reports instructions
per request: a deterministic figure for A/B comparisons on a shared machine.

Data: `--seed` runs `domainflow seed --campaigns 1 --domains 2000000` first (a no-op when the
chain is present). The PostgreSQL database must exist (`createdb -h 127.0.0.1 -U postgres
df_bench`).
"""

import argparse
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOMAINS = 2_000_000
DEPTH = 1_950_000
PAGE = 50
CLK_TCK = os.sysconf("SC_CLK_TCK")
VGDB_PREFIX = "/tmp/domainflow-bench-vgdb"
ACCEPT_ENCODING = None  # --accept-encoding

NODE = "edges { cursor node { id databaseId domainName offsetIndex createdAt } } " \
       "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"


def page_query(total):
    return ("query Page($campaign: UUID!, $after: String) { campaignByDatabaseId(databaseId: $campaign) "
            "{ generatedDomains(first: %d, after: $after) { %s%s } } }" % (PAGE, "totalCount " if total else "", NODE))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The release server in a process of its own (optionally under callgrind)."""

    def __init__(self, binary, database_url, port, extra_env, callgrind_out=None):
        env = dict(os.environ)
        env.update({
            "DATABASE_URL": database_url,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "RUST_LOG": "warn",
            "SHUTDOWN_DELAY_MS": "0",
        })
        env.update(extra_env)
        cmd = [binary, "serve"]
        if callgrind_out:
            cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--vgdb-prefix=" + VGDB_PREFIX,
                   "--callgrind-out-file=" + callgrind_out] + cmd
        self.port = port
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=self.log)
        deadline = time.time() + (300 if callgrind_out else 120)
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                sys.exit("server exited: " + self.log.read().decode(errors="replace")[-2000:])
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        sys.exit("server did not become ready")

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime

    def rss_mib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def graphql(port, query, variables=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", "/graphql", json.dumps({"query": query, "variables": variables or {}}),
                 {"Content-Type": "application/json"})
    body = json.loads(conn.getresponse().read())
    if body.get("errors"):
        sys.exit("GraphQL errors: %s" % body["errors"])
    return body["data"]


def find_campaign(port):
    data = graphql(port, "{ campaigns(first: 100, filter: {campaignType: DOMAIN_GENERATION}) "
                         "{ nodes { databaseId generatedDomains(first: 1) { totalCount } } } }")
    for node in data["campaigns"]["nodes"]:
        if node["generatedDomains"]["totalCount"] == DOMAINS:
            return node["databaseId"]
    return None


def deep_cursor(port, campaign):
    """Cursor of the row at depth DEPTH - 1 (so `after:` it starts the page at DEPTH), found by
    paging backwards from the end of the connection."""
    q = ("query($c: UUID!, $n: Int, $before: String) { campaignByDatabaseId(databaseId: $c) "
         "{ generatedDomains(last: $n, before: $before) { pageInfo { startCursor } } } }")
    before, remaining = None, DOMAINS - DEPTH
    while remaining > 0:
        n = min(1000, remaining)
        data = graphql(port, q, {"c": campaign, "n": n, "before": before})
        before = data["campaignByDatabaseId"]["generatedDomains"]["pageInfo"]["startCursor"]
        remaining -= n
    data = graphql(port, q.replace("startCursor", "endCursor"), {"c": campaign, "n": 1, "before": before})
    return data["campaignByDatabaseId"]["generatedDomains"]["pageInfo"]["endCursor"]


def check_page(port, body):
    """The benchmarked request answers 50 edges without errors (checked once per case)."""
    data = graphql(port, body["query"], body["variables"])
    conn = data["campaignByDatabaseId"]["generatedDomains"]
    assert len(conn["edges"]) == PAGE, "expected %d edges" % PAGE
    if "totalCount" in conn:
        assert conn["totalCount"] == DOMAINS
    return conn


def persisted(port, body):
    """Registers the body's query as an Automatic Persisted Query and returns the hash-only body
    (no query text) that the benchmark then sends."""
    extensions = {"persistedQuery": {"version": 1,
                                     "sha256Hash": hashlib.sha256(body["query"].encode()).hexdigest()}}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", "/graphql", json.dumps(dict(body, extensions=extensions)),
                 {"Content-Type": "application/json"})
    answer = json.loads(conn.getresponse().read())
    if answer.get("errors"):
        sys.exit("registering the persisted query: %s" % answer["errors"])
    hashed = {"extensions": extensions, "variables": body["variables"]}
    conn.request("POST", "/graphql", json.dumps(hashed), {"Content-Type": "application/json"})
    if json.loads(conn.getresponse().read()) != answer:
        sys.exit("the hash-only request answered differently from the text")
    return hashed


LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = %s
%s
"""


def lua_string(text):
    return "[==[" + text + "]==]"


def parse_ms(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(server, body, connections, duration):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA % (lua_string(json.dumps(body)),
                       'wrk.headers["Accept-Encoding"] = "%s"' % ACCEPT_ENCODING if ACCEPT_ENCODING else ""))
        script = f.name
    threads = 1 if connections == 1 else 2
    cpu0 = server.cpu_seconds()
    out = subprocess.run(["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % duration, "--latency",
                          "-s", script, "http://127.0.0.1:%d/graphql" % server.port],
                         capture_output=True, text=True, check=True).stdout
    cpu1 = server.cpu_seconds()
    os.unlink(script)
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "requests": requests,
        "req_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": parse_ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1)),
        "p99_ms": parse_ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1)),
        "cpu_ms_per_request": (cpu1 - cpu0) * 1000 / max(requests, 1),
        "rss_mib_after": server.rss_mib(),
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else None,
    }


def callgrind_total(path):
    total = 0
    for name in os.listdir(os.path.dirname(path)):
        if name.startswith(os.path.basename(path)):
            with open(os.path.join(os.path.dirname(path), name)) as f:
                for line in f:
                    if line.startswith("summary:") or line.startswith("totals:") :
                        total = max(total, int(line.split()[1]))
    return total


def callgrind_control(server, *args):
    # valgrind names its pipes after $USER and $HOST, and the server runs with HOST set.
    env = dict(os.environ, HOST="127.0.0.1")
    for _ in range(60):
        out = subprocess.run(["callgrind_control", "--vgdb-prefix=" + VGDB_PREFIX, *args, str(server.proc.pid)],
                             capture_output=True, text=True, env=env)
        if out.returncode == 0 and "rror" not in out.stdout + out.stderr:
            return
        time.sleep(0.5)
    sys.exit("callgrind_control failed: " + out.stdout + out.stderr)


def count_instructions(server, body, n, warmup):
    """Instructions per request: instrumentation on for exactly n sequential requests."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    payload = json.dumps(body)
    headers = {"Content-Type": "application/json"}
    if ACCEPT_ENCODING:
        headers["Accept-Encoding"] = ACCEPT_ENCODING

    def send():
        conn.request("POST", "/graphql", payload, headers)
        resp = conn.getresponse()
        answer = resp.read()
        assert resp.status == 200
        return answer

    if ACCEPT_ENCODING is None:
        first = json.loads(send())
        if first.get("errors"):
            sys.exit("the counted request fails: %s" % first["errors"])

    for _ in range(warmup):
        send()
    callgrind_control(server, "-i", "on")
    for _ in range(n):
        send()
    callgrind_control(server, "-i", "off")
    conn.close()


def backend_cases(args, name, url):
    extra = {"DB_MAX_OPEN_CONNS": str(args.pool)}
    if args.seed:
        env = dict(os.environ, DATABASE_URL=url, **extra)
        subprocess.run([args.binary, "seed", "--campaigns", "1", "--domains", str(DOMAINS), "--quiet"],
                       env=env, check=True)
    port = free_port()
    server = Server(args.binary, url, port, extra)
    try:
        campaign = find_campaign(port)
        if campaign is None:
            sys.exit("%s: no campaign of %d domains; run with --seed" % (name, DOMAINS))
        cursor = deep_cursor(port, campaign)
        cases = []
        for depth, after in (("first", None), ("1,950,000", cursor)):
            for total in (False, True):
                body = {"query": page_query(total), "variables": {"campaign": campaign, "after": after}}
                conn = check_page(port, body)
                if after is not None:
                    assert conn["pageInfo"]["hasPreviousPage"], "deep page must have predecessors"
                full = body
                if args.apq:
                    body = persisted(port, body)
                if (depth == "first") in args.pages and total in args.totals:
                    cases.append((depth, total, body, full))
        results = []
        if args.instructions:
            server.stop()
            out = os.path.join(tempfile.mkdtemp(), "callgrind.out")
            for depth, total, body, full in cases:
                server = Server(args.binary, url, port, extra, callgrind_out=out)
                if args.apq:
                    persisted(port, full)  # a new server: register the query again
                count_instructions(server, body, args.instructions, args.warmup)
                server.stop()
                ir = callgrind_total(out)
                if args.keep_profile:
                    os.makedirs(args.keep_profile, exist_ok=True)
                    keep = os.path.join(args.keep_profile, "callgrind.%s.%s.%s" % (name, depth.replace(",", ""),
                                                                                  "total" if total else "plain"))
                    os.replace(out, keep)
                for fname in os.listdir(os.path.dirname(out)) if os.path.exists(os.path.dirname(out)) else []:
                    os.unlink(os.path.join(os.path.dirname(out), fname))
                row = {"backend": name, "depth": depth, "totalCount": total,
                       "instructions_per_request": ir / args.instructions}
                print(json.dumps(row), flush=True)
                results.append(row)
            return results
        for depth, total, body, _ in cases:
            for c in args.connections:
                row = {"backend": name, "depth": depth, "totalCount": total, "connections": c}
                row.update(run_wrk(server, body, c, args.duration))
                print(json.dumps(row), flush=True)
                results.append(row)
        return results
    finally:
        server.stop()


def markdown(results):
    if results and "instructions_per_request" in results[0]:
        lines = ["| backend | page | totalCount | instructions / request |", "|---|---|---|---|"]
        for r in results:
            lines.append("| %s | %s | %s | %s |" % (r["backend"], r["depth"], "yes" if r["totalCount"] else "no",
                                                  format(int(r["instructions_per_request"]), ",")))
        return "\n".join(lines)
    lines = ["| backend | page | totalCount | conns | req/s | p50 ms | p99 ms | server CPU ms/req | RSS MiB after |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append("| %s | %s | %s | %d | %s | %.2f | %.2f | %.3f | %.1f |" % (
            r["backend"], r["depth"], "yes" if r["totalCount"] else "no", r["connections"],
            format(round(r["req_per_s"]), ","), r["p50_ms"], r["p99_ms"], r["cpu_ms_per_request"],
            r["rss_mib_after"]))
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")),
                                                    "release", "domainflow"))
    p.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432/df_bench")
    p.add_argument("--sqlite-url", default="sqlite://" + os.path.join(ROOT, "target", "bench.db"))
    p.add_argument("--backends", default="postgres,sqlite")
    p.add_argument("--connections", default="1,4,32")
    p.add_argument("--duration", type=int, default=10, help="seconds per case")
    p.add_argument("--pool", type=int, default=8, help="DB_MAX_OPEN_CONNS of the server")
    p.add_argument("--seed", action="store_true", help="seed the 2M chain first (no-op when present)")
    p.add_argument("--instructions", type=int, default=0, help="callgrind mode: requests counted per case")
    p.add_argument("--warmup", type=int, default=200, help="callgrind mode: requests before counting")
    p.add_argument("--pages", default="first,deep", help="which pages: first, deep")
    p.add_argument("--totals", default="no,yes", help="without (no) / with (yes) totalCount")
    p.add_argument("--keep-profile", default=None, help="callgrind mode: keep the profiles in this folder")
    p.add_argument("--accept-encoding", default=None, help="send this Accept-Encoding (e.g. gzip, br)")
    p.add_argument("--apq", action="store_true",
                   help="send the page as an Automatic Persisted Query (hash only, registered first)")
    p.add_argument("--json", default=None, help="write the results here")
    args = p.parse_args()
    global ACCEPT_ENCODING
    ACCEPT_ENCODING = args.accept_encoding
    args.connections = [int(c) for c in args.connections.split(",")]
    args.pages = [page == "first" for page in args.pages.split(",")]
    args.totals = [total == "yes" for total in args.totals.split(",")]
    results = []
    for name in args.backends.split(","):
        url = {"postgres": args.postgres_url, "sqlite": args.sqlite_url}[name]
        results += backend_cases(args, name, url)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"duration_s": args.duration, "pool": args.pool, "results": results}, f, indent=1)
    print(markdown(results))


if __name__ == "__main__":
    main()
