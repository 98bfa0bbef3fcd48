#!/usr/bin/env bash
# brix plan --emit html|svg and brix plan calibrate --emit html, rendered in a real headless
# browser: the DOM has a row per stage, a bubble block as wide as the plan's bubble fraction
# (within 1%), every ranked plan and rejection reason; the SVG is well-formed XML; screenshots
# are taken (BRIX_SCREENSHOT_DIR=docs/img keeps them for the README). The serving page draws
# the Pareto front of the plans with the SLO lines.
source "$(dirname "$0")/lib.sh"
command -v xmllint >/dev/null || { echo "SKIP: xmllint not installed (apt-get install libxml2-utils)"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to read the DOM"; exit 77; }
source "$(dirname "$0")/browser_lib.sh"

# A known plan: GPT-3 175B on 64 nodes of 8 A100 80GB (512 GPUs, Selene's nodes), 1F1B over 8
# uniform stages (12 layers each).
args=(--model gpt-175b --nodes 64 --gpu a100-sxm-80gb --global-batch 512
      --layout tp=8,pp=8,schedule=1f1b,vpp=1,zero=1,recompute=full,mbs=1,cp=1)
run "$BRIX" plan "${args[@]}" --format json
expect_rc 0 "plan --format json"
printf '%s' "$out" >"$work/plan.json"
run "$BRIX" plan "${args[@]}" --emit html -o "$work/plan.html"
expect_rc 0 "--emit html"
run "$BRIX" plan "${args[@]}" --emit svg -o "$work/timeline.svg"
expect_rc 0 "--emit svg"
run xmllint --noout "$work/timeline.svg"
expect_rc 0 "the SVG is well-formed XML"

browser_dom "file://$work/plan.html" "$work/plan.dom.html"
checks=$((checks + 1))
python3 - "$work/plan.json" "$work/plan.dom.html" <<'PY' || fail "the plan page's DOM does not show the plan"
import json, sys
from html.parser import HTMLParser

plan = json.load(open(sys.argv[1]))
best = plan["plans"][0]

class Dom(HTMLParser):
    """Elements with their attributes, and the id'd tables' data rows."""
    def __init__(self):
        super().__init__()
        self.elements = []
        self.rows = {}
        self.table = None
    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.elements.append((tag, attrs))
        if tag == "table":
            self.table = attrs.get("id")
            self.rows.setdefault(self.table, 0)
        if tag == "td" and self.table and self.last != "td":
            self.rows[self.table] += 1
        self.last = tag
    last = None

dom = Dom()
dom.feed(open(sys.argv[2]).read())
def having(tag, cls):
    return [a for t, a in dom.elements if t == tag and cls in a.get("class", "").split()]

# One timeline row per pipeline stage, each naming its layers; the slowest is marked.
stages = having("g", "stage")
assert len(stages) == best["layout"]["pp"] == 8, len(stages)
assert [s["data-layers"] for s in stages][0] == "layers 0–11", stages[0]
critical = having("g", "critical")
assert len(critical) == 1 and critical[0]["data-stage"] == str(best["critical_stage"]), critical

# The step breakdown's bubble block: its width over the bar's is the plan's bubble fraction.
bar = [a for t, a in dom.elements if t == "rect" and "segment" in a.get("class", "").split() and "data-kind" in a]
total = sum(float(a["width"]) for a in bar)
bubble = [a for a in bar if a["data-kind"] == "bubble"]
assert len(bubble) == 1, bar
fraction = float(bubble[0]["width"]) / total
assert abs(fraction - best["bubble_fraction"]) <= 0.01 * best["bubble_fraction"], (fraction, best["bubble_fraction"])
assert abs(float(bubble[0]["data-fraction"]) - best["bubble_fraction"]) < 1e-6

# The slowest stage's row: its idle blocks add up to the same bubble (1F1B on uniform stages).
timeline = [a for t, a in dom.elements if t == "svg" and "pipeline-timeline" in a.get("class", "")][0]
rects = [a for t, a in dom.elements if t == "rect"]
plot_width = 870.0  # render_timeline.cpp: the time axis spans the whole step over 870 px
idle = float(critical[0]["data-idle-seconds"])
assert abs(idle - best["bubble_fraction"] * best["step_time_s"]) <= 0.01 * best["bubble_fraction"] * best["step_time_s"], idle
assert having("rect", "idle"), "no idle blocks drawn"
assert having("rect", "forward") and having("rect", "backward") and having("rect", "recompute")

# Memory: a stacked bar per stage, five kinds each, under the GPU's capacity line.
segments = [a for t, a in dom.elements if t == "rect" and a.get("class") == "segment" and "data-series" in a]
assert len(segments) == 8 * 5, len(segments)
capacity = [a for t, a in dom.elements if t == "line" and a.get("class") == "capacity"]
assert len(capacity) == 1 and abs(float(capacity[0]["data-value"]) - 80) < 0.5, capacity
# Ranked plans and rejections: as many rows as the report has.
assert dom.rows["ranked-plans"] == len(plan["plans"]), (dom.rows, len(plan["plans"]))
assert dom.rows.get("rejected", 0) == len(plan["rejected"]), (dom.rows, len(plan["rejected"]))
PY
browser_screenshot "file://$work/plan.html" "$work/plan.png" 1180 1180
expect_png "$work/plan.png"
keep_screenshot "$work/plan.png" plan.png

# Rejected layouts: with recomputation searched too, some run out of memory; the page lists
# each reason with its count, as the report has them.
rejecting=(--model gpt-175b --nodes 64 --gpu a100-sxm-80gb --global-batch 512
           --layout tp=8,pp=8,schedule=1f1b,vpp=1,zero=1,cp=1)
run "$BRIX" plan "${rejecting[@]}" --format json
expect_rc 0 "plan --format json (with rejections)"
printf '%s' "$out" >"$work/rejecting.json"
run "$BRIX" plan "${rejecting[@]}" --emit html -o "$work/rejecting.html"
expect_rc 0 "--emit html (with rejections)"
browser_dom "file://$work/rejecting.html" "$work/rejecting.dom.html"
checks=$((checks + 1))
python3 - "$work/rejecting.json" "$work/rejecting.dom.html" <<'PY' || fail "the page's rejected layouts"
import json, re, sys
rejected = json.load(open(sys.argv[1]))["rejected"]
assert rejected, "the known layout should have rejections"
table = re.search(r'<table id="rejected">(.*?)</table>', open(sys.argv[2]).read(), re.S).group(1)
rows = re.findall(r'<tr><td>(.*?)</td><td class="num">([0-9,]+)</td>', table)
wanted = [(r["reason"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"), r["count"]) for r in rejected]
assert [(reason, int(count.replace(",", ""))) for reason, count in rows] == wanted, (rows, wanted)
PY

# The SVG alone opens in the browser too.
browser_dom "file://$work/timeline.svg" "$work/timeline.dom"
checks=$((checks + 1)); grep -q 'class="segment bubble"' "$work/timeline.dom" || fail "the SVG timeline has no bubble block"

# A schedule of each kind draws (interleaved, zero-bubble, DualPipe: brix's own schedules), and the SVG
# stays valid.
for schedule in interleaved,vpp=2 zb-h1,vpp=1 dualpipe,vpp=1; do
  run "$BRIX" plan --model gpt-175b --nodes 64 --gpu a100-sxm-80gb --global-batch 512 \
    --layout "tp=8,pp=8,zero=1,recompute=full,mbs=1,cp=1,schedule=$schedule" --software brix --emit svg -o "$work/t.svg"
  expect_rc 0 "--emit svg with $schedule"
  run xmllint --noout "$work/t.svg"
  expect_rc 0 "$schedule SVG well-formed"
  checks=$((checks + 1)); [ "$(grep -oE '<g class="stage( [^"]*)?"' "$work/t.svg" | wc -l)" -eq 8 ] || fail "$schedule: not 8 stage rows"
done

# Serving plans: the Pareto front of output tokens/s per GPU against tokens/s per user, every
# ranked plan and front plan drawn once, hollow when it misses an SLO (TPOT as the dashed line,
# TTFT on the point), the ranked table and the rejections, all from the report's values.
serve=(plan --serve --tpot-ms 26 --ttft-ms 400 --top 8)
run "$BRIX" "${serve[@]}" --format json
expect_rc 0 "plan --serve --format json"
printf '%s' "$out" >"$work/serve.json"
run "$BRIX" "${serve[@]}" --emit html -o "$work/serve.html"
expect_rc 0 "plan --serve --emit html"
browser_dom "file://$work/serve.html" "$work/serve.dom.html"
checks=$((checks + 1))
python3 - "$work/serve.json" "$work/serve.dom.html" <<'PY' || fail "the serving page's DOM does not show the plans"
import json, re, sys
report = json.load(open(sys.argv[1]))
dom = open(sys.argv[2]).read()
points = re.findall(r'<circle [^>]*class="(point(?: on-front)?)" data-per-user="([^"]+)" data-per-gpu="([^"]+)" data-meets-slo="([01])"', dom)
plans = {(p["node_group"], p["layout"]): p for p in report["plans"] + report["pareto"] if not p.get("max_request_rate")}
assert len(points) == len(plans), (len(points), len(plans))
def close(a, b):
    return abs(a - b) <= 0.001 * abs(b) + 0.01
drawn = sorted((float(u), float(g), m == "1") for _, u, g, m in points)
wanted = sorted((p["tokens_per_s_per_user"], p["output_tokens_per_s_per_gpu"], p["meets_slo"]) for p in plans.values())
assert all(close(a[0], b[0]) and close(a[1], b[1]) and a[2] == b[2] for a, b in zip(drawn, wanted)), (drawn, wanted)
assert any(not m for _, _, m in wanted) and any(m for _, _, m in wanted), "the known workload should have plans on both sides of the SLO"
front = sorted(float(u) for c, u, _, _ in points if c == "point on-front")
assert len(front) == len(report["pareto"]) and all(close(a, b) for a, b in zip(front, sorted(p["tokens_per_s_per_user"] for p in report["pareto"]))), (front, report["pareto"])
slo = re.findall(r'<line [^>]*class="slo" data-value="([^"]+)"', dom)
assert len(slo) == 1 and close(float(slo[0]), 1000 / 26), slo
rows = re.search(r'<table id="ranked-plans">(.*?)</table>', dom, re.S).group(1).count("<tr") - 1
assert rows == len(report["plans"]), (rows, len(report["plans"]))
for group in report["groups"]:
    table = re.search(r'<table id="rejected-%s">(.*?)</table>' % re.escape(group["name"]), dom, re.S)
    assert (table is not None) == bool(group["rejected"]), group["name"]
    if table:
        counts = [int(c.replace(",", "")) for c in re.findall(r'<td class="num">([0-9,]+)</td>', table.group(1))]
        assert counts == [r["count"] for r in group["rejected"]], (counts, group["rejected"])
PY
browser_screenshot "file://$work/serve.html" "$work/serve.png" 1180 900
expect_png "$work/serve.png"
keep_screenshot "$work/serve.png" serve.png

# Calibration: one point per published run, the y = x line and the ±10% band per metric.
run "$BRIX" plan calibrate --format json
expect_rc 0 "calibrate --format json"
printf '%s' "$out" >"$work/calibration.json"
run "$BRIX" plan calibrate --emit html -o "$work/calibration.html"
expect_rc 0 "calibrate --emit html"
browser_dom "file://$work/calibration.html" "$work/calibration.dom.html"
checks=$((checks + 1))
python3 - "$work/calibration.json" "$work/calibration.dom.html" <<'PY' || fail "the calibration page's DOM"
import json, re, sys
runs = json.load(open(sys.argv[1]))["runs"]
dom = open(sys.argv[2]).read()
points = re.findall(r'<circle [^>]*class="point" data-x="([^"]+)" data-y="([^"]+)"', dom)
assert len(points) == len(runs), (len(points), len(runs))
metrics = {r["metric"] for r in runs}
assert dom.count('class="identity"') == len(metrics), dom.count('class="identity"')
assert dom.count('class="band" data-band="0.1"') == len(metrics)
scale = {"mfu": 100}
wanted = sorted((round(r["published"] * scale.get(r["metric"], 1), 3), round(r["predicted"] * scale.get(r["metric"], 1), 3)) for r in runs)
drawn = sorted((round(float(x), 3), round(float(y), 3)) for x, y in points)
assert all(abs(a[0] - b[0]) <= 0.001 * abs(a[0]) + 1e-9 and abs(a[1] - b[1]) <= 0.001 * abs(a[1]) + 1e-9 for a, b in zip(wanted, drawn)), (wanted, drawn)
PY
browser_screenshot "file://$work/calibration.html" "$work/calibration.png" 1180 560
expect_png "$work/calibration.png"
keep_screenshot "$work/calibration.png" calibration.png

run "$BRIX" plan calibrate --emit pdf
expect_rc 2 "calibrate --emit pdf"; expect_err "calibrate --emit: unknown target 'pdf' \(expected html\)"
finish
