"""`scripts/bench msp`: the MSP-sized database of issue 15 and its latency targets.

Builds `azcops_bench_msp` (the real migrations through `azcops migrate`, then
scripts/bench-msp.sql: 200 tenants, 1,000,000 resources, 2 years of daily costs, 500,000
recommendations; `--size small` for a 20-tenant, 50,000-resource version), prints its size, and
measures the issue's queries with wrk (50 connections) straight at the release handler that
`azcops host` starts, as a reader of a mid-sized tenant, of the largest tenant and as an operator
reader. Handler RSS and the machine's busy CPU (other processes' load) are recorded per run.

Imported by scripts/bench-run, which passes its own module (`h`) for the shared helpers.
"""

import base64
import json
import os
import subprocess
import time

MSP_DB = "azcops_bench_msp"
SQL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench-msp.sql")

SIZES = {
    "full": {"tenants": 200, "resources": 1_000_000, "days": 730, "recommendations": 500_000},
    "small": {"tenants": 20, "resources": 50_000, "days": 60, "recommendations": 25_000},
}

# (query, caller, p99 target in ms; None: measured, no target of its own).
TARGETS = [
    ("resources_type_location", "mid", 50), ("resources_type_location", "largest", 50),
    ("resources_type_location", "operator", 200),
    ("resources_by_tag", "mid", 100), ("resources_by_tag", "largest", 100),
    ("resources_by_tag", "operator", 200),
    ("costs_summary_30d", "mid", 100), ("costs_summary_30d", "largest", 100),
    ("costs_summary_30d", "operator", 300),
    ("costs_summary_365d", "mid", 150), ("costs_summary_365d", "largest", 150),
    ("recommendations_list", "mid", 100), ("recommendations_list", "largest", 100),
    ("recommendations_summary", "mid", 100), ("recommendations_summary", "largest", 100),
    ("resources_page_1", "operator", None), ("resources_page_1000", "operator", None),
]


def sizes(size):
    s = dict(SIZES[size])
    for key in s:
        value = os.environ.get(f"BENCH_MSP_{key.upper()}")
        if value:
            s[key] = int(value)
    return s


# The realised savings' cells (migration 20261221000000) that differ from adding up the changed
# recommendations and their kept measurements: checked after every `azcops migrate`, which keeps
# the measurements through the triggers that keep the cells.
REALISED_CELLS_DIFFERING = """
WITH direct AS (
    SELECT r.tenant_id, r.rule_id, r.currency AS estimate_currency,
           coalesce(m.measurement::text, '') AS measurement, coalesce(m.currency, '') AS currency,
           count(*) AS count, coalesce(sum(r.estimated_monthly_savings), 0) AS estimated,
           coalesce(sum(m.monthly_savings), 0) AS savings
    FROM recommendations r
    LEFT JOIN recommendation_realised m ON m.tenant_id = r.tenant_id AND m.recommendation_id = r.id
    WHERE (r.status = 'executed' OR (r.status = 'resolved' AND r.approved_at IS NOT NULL))
      AND r.superseded_by IS NULL
    GROUP BY 1, 2, 3, 4, 5)
SELECT count(*) FROM recommendation_realised_cells c
FULL JOIN direct d USING (tenant_id, rule_id, estimate_currency, measurement, currency)
WHERE (c.count, c.estimated_monthly_savings, c.monthly_savings)
      IS DISTINCT FROM (d.count, d.estimated, d.savings)"""


def check_realised_cells(h):
    differing = h.psql(REALISED_CELLS_DIFFERING, MSP_DB)
    if differing != "0":
        raise SystemExit(f"msp: {differing} realised savings cells differ from the recommendations")
    return "realised cells differing: 0"


def build(b, h, s):
    """A fresh database with every migration, then the generator. With BENCH_MSP_REUSE=1 an
    existing database generated with the same sizes is kept (the generator leaves its sizes in
    the database's comment)."""
    stamp = "msp generated: " + json.dumps(s, sort_keys=True)
    if os.environ.get("BENCH_MSP_REUSE") == "1":
        comment = h.psql(f"SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '{MSP_DB}'")
        if comment == stamp:
            h.log(f"msp: reusing {MSP_DB} ({stamp})")
            # Migrations added since it was generated (e.g. indexes) are applied, unless
            # BENCH_MSP_MIGRATE=0 (to measure the database as it was, before them).
            migrated = os.environ.get("BENCH_MSP_MIGRATE") != "0"
            if migrated:
                subprocess.run([f"{b.bin}/azcops", "migrate"], env=b.env(MSP_DB), check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                h.psql("VACUUM ANALYZE", MSP_DB)
            latest = h.psql("SELECT max(version) FROM _sqlx_migrations", MSP_DB)
            result = {"reused": True, "migrated": migrated, "latest_migration": latest}
            if migrated:
                result["realised_check"] = check_realised_cells(h)
            return result
    h.log(f"msp: generating {MSP_DB}: {s}")
    t0 = time.monotonic()
    b.fresh_database(MSP_DB)
    t1 = time.monotonic()
    argv = ["psql", "-X", "-h", "127.0.0.1", "-U", "postgres", "-d", MSP_DB, "-v", "ON_ERROR_STOP=1"]
    for key, value in s.items():
        argv += ["-v", f"{key}={value}"]
    log_path = os.path.join(b.logs, "msp-generate.log")
    with open(log_path, "w") as logf:
        subprocess.run(argv + ["-f", SQL], check=True, stdout=logf, stderr=subprocess.STDOUT)
    t2 = time.monotonic()
    # The generator writes no kept realised savings (it loads with triggers off); `azcops
    # migrate` measures and keeps them, as after an upgrade.
    subprocess.run([f"{b.bin}/azcops", "migrate"], env=b.env(MSP_DB), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t3 = time.monotonic()
    with open(log_path) as f:
        checks = [line.strip() for line in f if line.startswith("msp: rollup")]
    checks.append(check_realised_cells(h))
    h.psql(f"COMMENT ON DATABASE {MSP_DB} IS '{stamp}'")
    return {"reused": False, "migrate_s": round(t1 - t0, 1), "generate_s": round(t2 - t1, 1),
            "realised_s": round(t3 - t2, 1), "rollup_check": checks}


def describe(h):
    rows = {}
    for table in ("tenants", "subscriptions", "resources", "resource_containers", "costs_daily",
                  "costs_daily_by_service", "costs_daily_totals", "costs_monthly_by_service",
                  "costs_tenant_daily_by_service", "costs_tenant_daily_totals",
                  "costs_tenant_monthly_by_service", "costs_all_tenants_daily_by_service",
                  "costs_all_tenants_monthly_by_service",
                  "resource_costs", "resource_metrics", "recommendations", "suppressions"):
        rows[table] = int(h.psql(f"SELECT count(*) FROM {table}", MSP_DB))
    size = int(h.psql(f"SELECT pg_database_size('{MSP_DB}')"))
    by_source = h.psql("SELECT string_agg(source || ' ' || n, ', ') FROM "
                       "(SELECT source, count(*) n FROM recommendations GROUP BY 1 ORDER BY 1) x", MSP_DB)
    return {"rows": rows, "database_bytes": size, "database_gb": round(size / 2**30, 2),
            "recommendations_by_source": by_source,
            "cost_partitions": int(h.psql("SELECT count(*) FROM pg_inherits WHERE inhparent = 'costs_daily'::regclass",
                                          MSP_DB))}


def callers(b, h):
    """Tokens: a reader of the largest tenant, of the median-sized one, and an operator reader."""
    sized = h.psql("SELECT string_agg(azure_tenant_id || ':' || id || ':' || n, ',' ORDER BY n DESC, id) FROM "
                   "(SELECT t.azure_tenant_id, t.id, count(r.id) AS n FROM tenants t "
                   " LEFT JOIN resources r ON r.tenant_id = t.id AND r.deleted_at IS NULL GROUP BY t.id) x",
                   MSP_DB).split(",")
    largest, mid = sized[0].split(":"), sized[len(sized) // 2].split(":")
    return {
        "largest": {"token": b.token("AzCops.Reader", largest[0]), "tenant_id": largest[1], "resources": int(largest[2])},
        "mid": {"token": b.token("AzCops.Reader", mid[0]), "tenant_id": mid[1], "resources": int(mid[2])},
        "operator": {"token": b.token("AzCops.Reader"), "tenant_id": None,
                     "resources": int(h.psql("SELECT count(*) FROM resources WHERE deleted_at IS NULL", MSP_DB))},
    }


def paths_for(h, who, tenant_id):
    where = f"AND tenant_id = '{tenant_id}'" if tenant_id else ""
    location = h.psql("SELECT location FROM resources WHERE type = 'microsoft.compute/virtualmachines' "
                      f"AND deleted_at IS NULL {where} GROUP BY location ORDER BY count(*) DESC LIMIT 1", MSP_DB)
    today = h.psql("SELECT current_date", MSP_DB)
    year_ago = h.psql("SELECT current_date - 364", MSP_DB)
    return {
        "resources_type_location": f"/api/v1/resources?page_size=100&type=microsoft.compute/virtualmachines&location={location}",
        "resources_by_tag": "/api/v1/resources?page_size=100&tag_key=environment&tag_value=prod",
        "costs_summary_30d": "/api/v1/costs/summary",
        "costs_summary_365d": f"/api/v1/costs/summary?from={year_ago}&to={today}",
        "recommendations_list": "/api/v1/recommendations?page_size=50",
        "recommendations_summary": "/api/v1/recommendations/summary",
    }


def page_1000_cursor(b, h, base, token, page_size=100, page=1000):
    """The cursor of page `page` of the operator's resource list: the first page's cursor names
    the query (its first 9 bytes: format and query hash); the key is the last row of page
    `page - 1` in the list's order, read from the database. Checked against the API: the page
    it opens starts with the row at that offset."""
    first = f"/api/v1/resources?page_size={page_size}&include_total=false"
    code, body = h.http("GET", base + first, token)
    if code != 200 or not body.get("next_cursor"):
        raise SystemExit(f"bench: msp: first page: {code} {str(body)[:200]}")
    raw = base64.urlsafe_b64decode(body["next_cursor"] + "=" * (-len(body["next_cursor"]) % 4))
    prefix = raw[:9]
    offset = (page - 1) * page_size
    last = h.psql("SELECT resource_id || ' ' || id FROM resources WHERE deleted_at IS NULL "
                  f"ORDER BY resource_id, id OFFSET {offset - 1} LIMIT 1", MSP_DB).split(" ")
    expected = h.psql("SELECT resource_id FROM resources WHERE deleted_at IS NULL "
                      f"ORDER BY resource_id, id OFFSET {offset} LIMIT 1", MSP_DB)
    key = json.dumps([last[0], last[1]], separators=(",", ":")).encode()
    cursor = base64.urlsafe_b64encode(prefix + key).decode().rstrip("=")
    path = f"/api/v1/resources?page_size={page_size}&cursor={cursor}"
    code, body = h.http("GET", base + path, token)
    if code != 200 or not body["items"] or body["items"][0]["resource_id"] != expected:
        raise SystemExit(f"bench: msp: page {page} by cursor: {code} {str(body)[:300]}")
    return first, path


def run(b, h):
    size = b.args.size
    s = sizes(size)
    out = {"sizes": s, "build": build(b, h, s)}
    out["database"] = describe(h)
    h.log(f"msp: database {out['database']}")
    b.start_idp()
    host_pid, handler_pid = b.start_host(MSP_DB)
    base = f"http://127.0.0.1:{b.handler_port(handler_pid)}"
    who = callers(b, h)
    out["callers"] = {k: {"tenant_id": v["tenant_id"], "resources": v["resources"]} for k, v in who.items()}
    paths = {k: paths_for(h, k, v["tenant_id"]) for k, v in who.items()}
    # Page 1,000 (or the last full page of a smaller estate).
    deep = min(1000, who["operator"]["resources"] // 100)
    out["deep_page"] = deep
    page1, page1000 = page_1000_cursor(b, h, base, who["operator"]["token"], page=deep)
    paths["operator"]["resources_page_1"] = page1
    paths["operator"]["resources_page_1000"] = page1000
    out["paths"] = paths
    secs = int(os.environ.get("BENCH_MSP_SECS") or b.size["api_secs"])
    conns = b.size["connections"]
    # Every path answers 200 before it is measured (which warms the pool and the caches); the
    # time of that one request alone, without load, is kept.
    single, failed = {}, set()
    for (name, caller, _target) in TARGETS:
        t0 = time.monotonic()
        try:
            code, body = h.http("GET", base + paths[caller][name], who[caller]["token"], timeout=120)
        except TimeoutError:
            code, body = None, "no answer within 120 s"
        single[f"{name}@{caller}"] = round((time.monotonic() - t0) * 1000, 1)
        h.log(f"msp: {name} as {caller}: {code} in {single[f'{name}@{caller}']} ms alone")
        if code is None:
            failed.add((name, caller))
        elif code != 200:
            raise SystemExit(f"bench: msp: {name} as {caller}: {code} {str(body)[:300]}")
    out["single_request_ms"] = single
    # A path that does not answer within 120 s alone is not put under load (it is reported).
    out["no_answer"] = [f"{n}@{c}" for n, c in sorted(failed)]
    rss0 = h.status_kb(handler_pid, "VmRSS")
    only = set(filter(None, os.environ.get("BENCH_MSP_ONLY", "").split(",")))
    runs = []
    for (name, caller, target) in TARGETS:
        if (only and name not in only) or (name, caller) in failed:
            continue
        h.log(f"msp: {name} as {caller}, {conns} connections, {secs} s")
        sampler = h.CpuSampler({"handler": handler_pid, "host": host_pid}, MSP_DB, every=1.0,
                               rss_pid=handler_pid).start()
        r = h.wrk(base, paths[caller][name], who[caller]["token"], conns, secs)
        r["cpu"] = sampler.stop()
        rss = [kb for _, kb in sampler.rss]
        r.update({"query": name, "caller": caller, "target_p99_ms": target,
                  "handler_rss_mb": [round(min(rss) / 1024, 1), round(max(rss) / 1024, 1)] if rss else None})
        del r["raw"]
        runs.append(r)
        h.log(f"  {r['requests_per_s']} req/s, p99 {r['latency_ms'].get('p99')} ms, errors {r['errors_total']}, "
              f"other processes {r['cpu']['other_processes_cpu_s']} CPU s")
    out["runs"] = runs
    out["handler_rss_mb"] = {"before": round(rss0 / 1024, 1),
                             "after": round(h.status_kb(handler_pid, "VmRSS") / 1024, 1),
                             "peak": round(h.status_kb(handler_pid, "VmHWM") / 1024, 1)}
    b.stop("host")
    b.results["msp"] = out


def summary(add, m):
    d = m["database"]
    build = m["build"]
    add(f"[msp] {m['sizes']}; database {d['database_gb']} GB; rows {d['rows']}; "
        f"recommendations {d['recommendations_by_source']}; {d['cost_partitions']} costs_daily partitions")
    if not build.get("reused"):
        add(f"  migrate {build['migrate_s']} s, generate {build['generate_s']} s, realised savings kept {build.get('realised_s', '-')} s; {' / '.join(build['rollup_check'])}")
    else:
        add(f"  reused the generated database; latest migration {build.get('latest_migration')}")
    add("  callers: " + ", ".join(f"{k} {v['resources']} resources" for k, v in m["callers"].items()))
    page = {}
    for r in m["runs"]:
        p99 = r["latency_ms"].get("p99")
        target = r["target_p99_ms"]
        verdict = "" if target is None else (" met" if p99 is not None and p99 < target and r["errors_total"] == 0
                                             else " MISSED")
        page[r["query"]] = p99
        add(f"  {r['query']:<26} {r['caller']:<9} {r['requests_per_s']:>8} req/s  p50 {r['latency_ms'].get('p50')} ms  "
            f"p99 {p99} ms (target {target}){verdict}  errors {r['errors_total']}  "
            f"RSS {r['handler_rss_mb']} MB  CPU s handler {r['cpu']['cpu_s'].get('handler', 0)} "
            f"PostgreSQL {r['cpu']['cpu_s'].get('postgres_backends', 0)} other {r['cpu']['other_processes_cpu_s']}")
    if page.get("resources_page_1") and page.get("resources_page_1000"):
        ratio = page["resources_page_1000"] / page["resources_page_1"]
        add(f"  page {m.get('deep_page', 1000)} / page 1 (p99): {ratio:.2f} (target within 1.5)")
    for key in m.get("no_answer", []):
        add(f"  {key}: no answer within 120 s to a single request (not measured under load)")
    rss = m["handler_rss_mb"]
    add(f"  handler RSS MB: before {rss['before']}, after {rss['after']}, peak {rss['peak']}")
