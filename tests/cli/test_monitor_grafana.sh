#!/usr/bin/env bash
# brix monitor grafana: the dashboard JSON imports as is (datasource variable, current schema),
# and every panel's query names metrics a real /metrics serves — checked against the exposition
# of a monitored job (fake ranks, one slowed, and the stand-in NVML so GPU figures are served),
# then run by a real Prometheus that scrapes it with configs/monitor/prometheus.yml: every
# query is valid PromQL, and the core panels get data.
source "$(dirname "$0")/lib.sh"
for tool in promtool prometheus jq; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed (apt-get install prometheus jq)"; exit 77; }
done
compiler=${CC:-cc}
command -v "$compiler" >/dev/null || { echo "SKIP: no C compiler ($compiler) to build the stand-in NVML"; exit 77; }
if [ -e /proc/driver/nvidia/version ]; then echo "SKIP: a real GPU driver is loaded; this test stands one in where there is none"; exit 77; fi
source "$(dirname "$0")/monitor_lib.sh"

run "$BRIX" monitor grafana
expect_rc 0 "monitor grafana"
printf '%s\n' "$out" >"$work/brix-dashboard.json"
checks=$((checks + 1))
jq -e '.schemaVersion >= 36 and .uid == "brix-job" and (.templating.list[0] | .type == "datasource" and .query == "prometheus")
       and ([.panels[] | select(.type != "row") | .datasource.uid == "${datasource}"] | all)
       and ([.panels[] | select(.type != "row")] | length) >= 20' "$work/brix-dashboard.json" >/dev/null ||
  fail "dashboard JSON model"

# The documented scrape configuration is valid.
run promtool check config "$BRIX_SOURCE_DIR/configs/monitor/prometheus.yml"
expect_rc 0 "promtool check config on configs/monitor/prometheus.yml"

# A job with GPU figures (the stand-in NVML) and a straggler.
"$compiler" -shared -fPIC -o "$work/libnvidia-ml.so.1" "$BRIX_SOURCE_DIR/tests/cli/fakes/fake_nvml.c" ||
  { fail "cannot build fake NVML"; finish; exit 1; }
export BRIX_NVML_LIBRARY="$work/libnvidia-ml.so.1"
start_monitor || { finish; exit 1; }
run run_ranks --ranks 4 --steps 40 --step 0.03 --slow-rank 1 --slow-from 5 --slowdown 1.6
expect_rc 0 "ranks"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BRIX" monitor "$job" --prometheus "$port" --quiet --refresh 0.5 2>"$work/prom.err" &
monitor_pids+=($!)
gpu_metrics() {
  python3 - "$port" "$work/metrics" <<'PY'
import sys, urllib.request
text = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=2).read().decode()
open(sys.argv[2], "w").write(text)
sys.exit(0 if "DCGM_FI_DEV_GPU_UTIL{" in text and "brix_straggler{" in text else 1)
PY
}
wait_for 20 "/metrics with GPU figures and stragglers" gpu_metrics 2>/dev/null || { finish; exit 1; }

# Every query names only metrics the exposition serves.
checks=$((checks + 1))
python3 - "$work/brix-dashboard.json" "$work/metrics" <<'PY' || fail "a panel's query names a metric /metrics does not serve"
import json, re, sys
dashboard = json.load(open(sys.argv[1]))
served = {line.split()[2] for line in open(sys.argv[2]) if line.startswith("# TYPE ")}
def metric_names(expr):
    expr = re.sub(r'"[^"]*"', '""', expr)                                  # strings
    expr = re.sub(r'\{[^}]*\}', '', expr)                                  # label matchers
    expr = re.sub(r'\[[^\]]*\]', '', expr)                                 # ranges
    expr = re.sub(r'\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)', '', expr)  # label lists
    words = re.findall(r'[A-Za-z_:][A-Za-z0-9_:]*(?!\s*\()', expr)          # not functions
    return [w for w in words if w not in {"and", "or", "unless", "bool", "offset"} and not re.fullmatch(r'[a-z]+', w)]
queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
assert len(queries) >= 20, len(queries)
for expr in queries:
    names = metric_names(expr)
    assert names, expr
    missing = [n for n in names if n not in served]
    assert not missing, (expr, missing, sorted(served))
for variable in dashboard["templating"]["list"][1:]:
    name = re.match(r'label_values\(([A-Za-z_:][A-Za-z0-9_:]*)', variable["query"]["query"]).group(1)
    assert name in served, variable
PY

# A real Prometheus scrapes it with the documented configuration and runs every panel's query.
pport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -e "s/127.0.0.1:9464/127.0.0.1:$port/" -e "s/scrape_interval: 5s/scrape_interval: 1s/" -e "s/scrape_timeout: 4s/scrape_timeout: 1s/" \
  "$BRIX_SOURCE_DIR/configs/monitor/prometheus.yml" >"$work/prometheus.yml"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$pport" --log.level=warn >"$work/prometheus.log" 2>&1 &
monitor_pids+=($!)
scraped() {
  python3 - "$pport" <<'PY'
import json, sys, urllib.parse, urllib.request
query = urllib.parse.quote('count_over_time(brix_job_step[1m]) >= 3')
answer = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/api/v1/query?query={query}", timeout=2))
sys.exit(0 if answer["data"]["result"] else 1)
PY
}
wait_for 60 "Prometheus has scraped brix three times" scraped 2>/dev/null || { cat "$work/prometheus.log" >&2; finish; exit 1; }
checks=$((checks + 1))
python3 - "$work/brix-dashboard.json" "$pport" <<'PY' || fail "the panels' queries on a real Prometheus"
import json, sys, urllib.parse, urllib.request
dashboard = json.load(open(sys.argv[1]))
def query(expr):
    expr = expr.replace("$__rate_interval", "30s").replace("$job", "job").replace("$node", ".*")
    url = f"http://127.0.0.1:{sys.argv[2]}/api/v1/query?query={urllib.parse.quote(expr)}"
    answer = json.load(urllib.request.urlopen(url, timeout=5))
    assert answer["status"] == "success", (expr, answer)
    return answer["data"]["result"]
empty = []
for panel in dashboard["panels"]:
    results = [query(target["expr"]) for target in panel.get("targets", [])]
    if results and not any(results):
        empty.append(panel["title"])
# Panels that must show this job: step times, stragglers, throughput, GPUs, heartbeats, events.
must = {"Step", "Ranks", "Median step time", "Compute time per rank", "Step time over the peers' median, per rank",
        "Stragglers", "Stragglers over time", "Throughput", "Heartbeat age", "GPU utilisation", "GPU temperature",
        "GPU memory used", "GPU power", "Stage compute time", "Events"}
assert not (must & set(empty)), sorted(must & set(empty))
print("panels without data for this job:", sorted(set(empty)))
PY
finish
