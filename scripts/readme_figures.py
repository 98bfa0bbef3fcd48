#!/usr/bin/env python3
"""Writes README.md's "What the default job finds" paragraph from what brix prints, so that its
figures cannot drift from the planner: `brix plan --format json` (the default job: DeepSeek-R1
on the example deployment), `brix plan --layout tp=8,pp=4,dp=2 --format json` (the layout the
deployment was proposed with) and nothing else.

  scripts/readme_figures.py [--brix build/brix]             print the paragraph
  scripts/readme_figures.py --write README.md               replace it in README.md
  scripts/readme_figures.py --check README.md               exit 1 when README.md differs
                                                            (tests/docs/run_docs.py runs this)
The paragraph sits between the two marker comments below, which README.md keeps.
"""
import argparse
import difflib
import json
import re
import subprocess
import sys

BEGIN = "<!-- figures: written by scripts/readme_figures.py from brix plan --format json; do not edit -->"
END = "<!-- end of figures -->"


def plan_json(brix, *args, expect=0):
    result = subprocess.run([brix, "plan", *args, "--format", "json"], capture_output=True, text=True)
    if result.returncode != expect:
        sys.exit(f"readme_figures: brix plan {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}")
    return json.loads(result.stdout)


def duration(seconds):
    """Minutes below two hours, else hours, one decimal (as brix prints them)."""
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def short_layout(layout):
    parts = [f"tp{layout['tp']}", f"pp{layout['pp']}", f"dp{layout['dp']}"]
    parts += [f"{key}{layout[key]}" for key in ("cp", "ep") if layout[key] > 1]
    return " ".join(parts)


def odd_part(n):
    while n % 2 == 0:
        n //= 2
    return n


def paragraph(brix):
    job = plan_json(brix)
    proposed = plan_json(brix, "--layout", "tp=8,pp=4,dp=2", expect=1)
    best = job["plans"][0]
    layout = best["layout"]
    mixed = job["mixed"]
    capacity = re.match(r"model states alone \(18 B/param, ([0-9.]+) TiB\) need at least (\d+) GPUs of (\d+) GiB "
                        r"even fully sharded; the cluster has (\d+)", proposed["capacity"])
    states_tib, need_gpus, gpu_gib, have_gpus = capacity.groups()
    h100 = [s["last_layer"] - s["first_layer"] + 1 for s in mixed["stages"] if s["node_group"] == "dgx-h100"]
    a100 = [s["last_layer"] - s["first_layer"] + 1 for s in mixed["stages"] if s["node_group"] == "a100-edr"]
    a100_layers = f"{min(a100)}–{max(a100)}" if min(a100) != max(a100) else f"{a100[0]}"
    recompute = best["recompute_plan"]["time_added_for_83pct_less_memory"]
    checkpoint = best["checkpoint"]
    explained = proposed["layout_estimate"]
    ranks = explained["layout"]["tp"] * explained["layout"]["pp"] * explained["layout"]["dp"] * explained["layout"]["cp"]
    stage = explained["memory_gib"]["stage"]
    where = "its last stage" if stage == explained["layout"]["pp"] - 1 else f"stage {stage}"
    gradients = "fp8 gradients" if layout["grad_compression"] == "fp8" else "bf16 gradients"
    text = (
        f"What the default job finds: at the proposed batch ({job['global_batch']:,} sequences: {job['gpus']} GPUs give "
        f"data-parallel sizes with a factor {odd_part(job['gpus'])}, which a power-of-two batch would rule out), "
        f"DeepSeek-R1's training states alone (18 B/param, {states_tib} TiB) need at least {need_gpus} GPUs of "
        f"{gpu_gib} GiB even fully sharded, and the example deployment has {have_gpus}, so only fully sharded layouts "
        f"fit. The best homogeneous plan, costed on the A100s ({short_layout(layout)}, ZeRO-{layout['zero']}, "
        f"{layout['recompute']} recomputation, {gradients}), takes {duration(best['step_time_s'])} per step at "
        f"{best['mfu'] * 100:.1f}% MFU, {duration(best['comm_exposed_s']['dp'])} of it exposed data-parallel traffic "
        f"over EDR; the stage-assignment planner's best ({short_layout(mixed['layout'])}, {sum(h100)} layers on the "
        f"H100 stage and {a100_layers} on each A100 stage) takes {duration(mixed['step_time_s'])}: the cluster can "
        f"serve the model, not train it. The recomputation report shows that 83% less activation memory costs "
        f"{recompute * 100:.1f}% more time on the tightest stage (a widely repeated claim says ≤ 12%), and the "
        f"Young/Daly interval for {checkpoint['size_gib'] / 1024:.1f} TiB checkpoints at "
        f"{checkpoint['storage_write_gb_per_s']:.0f} GB/s is {duration(checkpoint['interval_s'])}. "
        f"`brix plan --layout tp=8,pp=4,dp=2` explains the layout the deployment was proposed with: {ranks} ranks on "
        f"{job['gpus']} GPUs, and even with EP and ZeRO chosen to fit best (ZeRO-{explained['layout']['zero']}) it "
        f"needs {explained['memory_gib']['total']:.1f} GiB per GPU on {where}, "
        f"{explained['memory_gib']['total'] - float(gpu_gib):.1f} GiB over.")
    return wrap(text)


def wrap(text, width=100):
    """Lines of at most `width` characters; a `code span` is never cut."""
    words = re.findall(r"`[^`]*`\S*|\S+", text)
    lines, line = [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "\n".join(lines + [line])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brix", default="build/brix")
    parser.add_argument("--write", action="store_true", help="replace the paragraph in README")
    parser.add_argument("--check", action="store_true", help="exit 1 when README's paragraph differs")
    parser.add_argument("readme", nargs="?")
    args = parser.parse_args()
    text = paragraph(args.brix)
    if not args.readme:
        print(text)
        return 0
    readme = open(args.readme).read()
    found = re.search(re.escape(BEGIN) + r"\n(.*?)\n" + re.escape(END), readme, re.S)
    if not found:
        sys.exit(f"readme_figures: {args.readme} lacks the marker comments {BEGIN} ... {END}")
    if args.check:
        if found.group(1) == text:
            return 0
        sys.stdout.writelines(difflib.unified_diff(found.group(1).splitlines(True), (text + "\n").splitlines(True),
                                                   f"{args.readme} now", "what brix prints"))
        print("\n(run scripts/readme_figures.py --write README.md)")
        return 1
    if args.write:
        with open(args.readme, "w") as f:
            f.write(readme[: found.start(1)] + text + readme[found.end(1):])
    return 0


if __name__ == "__main__":
    sys.exit(main())
