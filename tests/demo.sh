#!/usr/bin/env bash
# Runs the README's run command (`scripts/dev --once`) on a small estate, in a database of its
# own and on ports of its own, then checks the counts it printed against the database: the demo
# must ingest every subscription through `azcops host` (timer → queue → handler) and report
# exactly what landed.
set -euo pipefail
cd "$(dirname "$0")/.."

subs=2
per_sub=40
db=azcops_demo_check
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/${db}"
export AZCOPS_DEMO_SUBSCRIPTIONS=$subs AZCOPS_DEMO_RESOURCES=$per_sub AZCOPS_DEMO_WAIT_SECS=300
export AZCOPS_DEMO_SIM=127.0.0.1:7290 AZCOPS_DEMO_IDP=127.0.0.1:7281 AZCOPS_DEMO_IDP_HTTPS=127.0.0.1:7282
export AZCOPS_HOST_LISTEN=127.0.0.1:7271
export AZCOPS_INGEST_QUEUE=azcops-ingest

scripts/ensure-postgres
psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS ${db} WITH (FORCE)"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
started=$SECONDS
scripts/dev --once | tee "$out"
echo "demo: finished in $((SECONDS - started)) s"

fail() { echo "demo check FAILED: $*" >&2; exit 1; }
sql() { psql -h 127.0.0.1 -U postgres -d "$db" -tAc "$1"; }

grep -qE "^Daily ingestion \(the last three days' costs\): run .* \(full, succeeded\), ${subs} of ${subs} subscription\(s\) succeeded$" "$out" \
  || fail "the summary does not say the daily run succeeded for ${subs} of ${subs} subscriptions"
grep -qE "^Cost backfill: run .* \(cost, succeeded\), costs .* to .*, ${subs} of ${subs} subscription\(s\) succeeded$" "$out" \
  || fail "the summary does not say the cost backfill succeeded for ${subs} of ${subs} subscriptions"
totals=$(grep -E '^  total ' "$out") || fail "no totals lines"
[ "$(wc -l <<<"$totals")" -eq 2 ] || fail "expected two totals lines (daily run, backfill)"
read -r _ resources costs recommendations metrics findings < <(sed -n 1p <<<"$totals")
read -r _ b_resources b_costs b_recommendations b_metrics b_findings < <(sed -n 2p <<<"$totals")
rows=$(grep -cE '^  [0-9a-f-]{36} +succeeded ' "$out" || true)
[ "$rows" -eq $((2 * subs)) ] || fail "${rows} subscription lines, expected $((2 * subs))"

check() {
  local what=$1 printed=$2 actual=$3
  echo "demo: ${what}: printed ${printed}, database ${actual}"
  [ "$printed" = "$actual" ] || fail "${what}: printed ${printed}, the database holds ${actual}"
}
yesterday=$(date -u -d yesterday +%F)
restated_from=$(date -u -d '3 days ago' +%F)
check "resources" "$resources" "$(sql 'SELECT count(*) FROM resources WHERE deleted_at IS NULL')"
check "resources in the estate" "$resources" "$((subs * per_sub))"
check "cost rows of the last three days (daily run)" "$costs" \
  "$(sql "SELECT count(*) FROM costs_daily WHERE date BETWEEN '${restated_from}' AND '${yesterday}'")"
check "Advisor recommendations" "$recommendations" "$(sql "SELECT count(*) FROM recommendations WHERE source = 'advisor'")"
check "rule findings" "$findings" "$(sql "SELECT count(*) FROM recommendations WHERE source = 'rule'")"
check "metric series (daily run items)" "$metrics" \
  "$(sql "SELECT coalesce(sum(i.metrics_count), 0) FROM ingestion_run_items i JOIN ingestion_runs r ON r.id = i.run_id WHERE r.mode = 'full'")"
check "cost rows (backfill)" "$b_costs" "$(sql 'SELECT count(*) FROM costs_daily')"
check "days of costs (backfill)" 29 "$(sql 'SELECT count(DISTINCT date) FROM costs_daily')"
check "backfill resources, recommendations, metrics, findings" "0 0 0 0" \
  "$b_resources $b_recommendations $b_metrics $b_findings"
[ "$costs" -gt 0 ] && [ "$recommendations" -gt 0 ] && [ "$metrics" -gt 0 ] && [ "$findings" -gt 0 ] \
  || fail "an ingestion that found no costs, recommendations, metrics or findings"
grep -qE "^Top recommendations" "$out" || fail "no top recommendations printed"
check "subscription ingestions succeeded" "$((2 * subs))" \
  "$(sql "SELECT count(*) FROM ingestion_run_items WHERE status = 'succeeded'")"
echo "demo check passed"
