#!/usr/bin/env python3
"""The bad-input corpus (tests/bad_input/README.md): runs brix on every malformed input and
checks, for each, that brix
  - ends by itself (no signal, no timeout),
  - exits 2 (or the code the class or case documents),
  - says so in one line, `brix: error: <where>: ...`, located at the input (file:line for text
    files, the file for binary ones, the option for command-line values),
  - writes nothing outside the folder it was given as output (every case runs in a sandbox whose
    whole tree is compared before and after; `../` and absolute names in inputs aim inside it).

usage: run_corpus.py BRIX CORPUS_DIR [CLASS/CASE ...]   (BRIX_WORKER in the environment)
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

TIMEOUT_S = float(os.environ.get("BRIX_BAD_INPUT_TIMEOUT", "30"))
# Absolute names in the inputs point here; nothing may ever appear in it.
OUTSIDE = "/tmp/brix-bad-input-outside"


def read_class(path):
    """CLASS file: `key: value` lines (run, exit, located, setup, where) and `case NAME key=value...`
    overrides."""
    spec = {"exit": "2", "located": "line", "setup": "copy", "cases": {}}
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("case "):
                name, *pairs = line[5:].split()
                spec["cases"][name] = dict(p.split("=", 1) for p in pairs)
                continue
            key, value = line.split(":", 1)
            spec[key.strip()] = value.strip()
    return spec


def snapshot(root):
    """Every path under root with its size and mtime."""
    state = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            state[os.path.relpath(path, root)] = (st.st_size, st.st_mtime_ns, st.st_mode)
    return state


TINY_CONFIG = ('{"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, '
               '"num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 128, '
               '"vocab_size": 128, "max_position_embeddings": 2048}')
TINY_PLAN = """brix_plan: 1
model: {{name: tiny, source: {model}}}
cluster: {{name: one-node, source: "shorthand:nodes=1,gpus_per_node=2,gpu=h100-sxm"}}
seq_len: 256
batch: {{global: 4, micro: 1, accumulation: 4}}
layout: {{tp: 2, pp: 1, dp: 1, ep: 1, etp: 1, cp: 1, sp: true, micro_batch: 1, vpp: 1,
         schedule: 1f1b, recompute: selective, zero: 1, precision: bf16, grad_compression: none}}
"""


# What every case may name besides its own input: {out} (the only place brix may write) and
# {plan} (a good plan of a tiny Llama on one node).
COMMON = {"out": "out/result", "plan": "in/tiny-plan.yaml"}


def fill(arg, values):
    """{name} -> its value; other braces (YAML, hostlists) stay."""
    for key, value in values.items():
        arg = arg.replace("{" + key + "}", value)
    return arg


def set_up_common(sandbox):
    inputs = os.path.join(sandbox, "in")
    os.makedirs(os.path.join(inputs, "tiny"), exist_ok=True)
    with open(os.path.join(inputs, "tiny", "config.json"), "w") as f:
        f.write(TINY_CONFIG)
    with open(os.path.join(inputs, "tiny-plan.yaml"), "w") as f:
        f.write(TINY_PLAN.format(model="in/tiny/config.json"))


def set_up(spec, case_path, sandbox):
    """Lays the case out in sandbox/in as its class needs; returns (values for {...}, the path
    the message must name)."""
    inputs = os.path.join(sandbox, "in")
    name = os.path.basename(case_path)
    setup = spec["setup"]
    values = dict(COMMON)
    if setup == "copy":
        shutil.copyfile(case_path, os.path.join(inputs, name))
        values["input"] = f"in/{name}"
        return values, values["input"]
    if setup == "hf-checkpoint":
        # The case is the checkpoint's only safetensors file.
        folder = os.path.join(inputs, "ckpt")
        os.makedirs(folder)
        with open(os.path.join(folder, "config.json"), "w") as f:
            f.write(TINY_CONFIG)
        shutil.copyfile(case_path, os.path.join(folder, "model.safetensors"))
        values["input"] = "in/ckpt"
        return values, "in/ckpt/model.safetensors"
    if setup == "hf-index":
        # The case is model.safetensors.index.json beside one good shard.
        folder = os.path.join(inputs, "ckpt")
        os.makedirs(folder)
        with open(os.path.join(folder, "config.json"), "w") as f:
            f.write(TINY_CONFIG)
        shutil.copyfile(os.path.join(os.path.dirname(case_path), "..", "good", "tiny.safetensors"),
                        os.path.join(folder, "model-00001-of-00001.safetensors"))
        shutil.copyfile(case_path, os.path.join(folder, "model.safetensors.index.json"))
        values["input"] = "in/ckpt"
        return values, "in/ckpt/model.safetensors.index.json"
    if setup == "checkpoint-store":
        # The case is the manifest of step 1 of a brix checkpoint store.
        folder = os.path.join(inputs, "store")
        os.makedirs(os.path.join(folder, "manifests"))
        os.makedirs(os.path.join(folder, "chunks"))
        manifest = os.path.join(folder, "manifests", "step_0000000001.json")
        shutil.copyfile(case_path, manifest)
        with open(os.path.join(folder, "latest"), "w") as f:
            f.write("step_0000000001.json\n")
        values["input"] = "in/store"
        return values, "in/store/manifests/step_0000000001.json"
    if setup == "probe-dir":
        folder = os.path.join(inputs, "probes")
        os.makedirs(folder)
        shutil.copyfile(case_path, os.path.join(folder, name))
        values["input"] = "in/probes"
        return values, f"in/probes/{name}"
    if setup == "shard-index":
        # The case is brix-shards.json of a resharded checkpoint folder.
        folder = os.path.join(inputs, "shards")
        os.makedirs(folder)
        shutil.copyfile(case_path, os.path.join(folder, "brix-shards.json"))
        values["input"] = "in/shards"
        return values, "in/shards/brix-shards.json"
    raise SystemExit(f"{case_path}: unknown setup '{setup}'")


def located_pattern(how, where, args):
    if how == "line":
        return r"^brix: error: " + re.escape(where) + r":[0-9]+: \S"
    if how == "file":
        return r"^brix: error: " + re.escape(where) + r"(:[0-9]+)?: \S"
    if how == "names":
        # The message names the input somewhere (after the store or folder it was found in).
        return r"^brix: error: .*" + re.escape(where)
    if how == "option":
        # The message names an option (--top, --job-dir) or one of the values given ('n[1-').
        values = [re.escape(a) for a in args if not a.startswith("-") and len(a) > 1]
        return r"^brix: error: .*(--[a-z]|" + "|".join(values) + ")" if values else r"^brix: error: .*--[a-z]"
    if how == "any":
        return r"^brix: error: \S"
    raise SystemExit(f"unknown located '{how}'")


def run_case(brix, case_id, args, expect_exit, how, where, sandbox, env):
    """Runs brix in sandbox/work; returns a list of complaints (empty: the case passed)."""
    problems = []
    root = os.path.dirname(sandbox)  # the parent holds the escape targets of `../` names
    before = snapshot(root)
    try:
        result = subprocess.run([brix] + args, cwd=sandbox, env=env, stdin=subprocess.DEVNULL,
                                capture_output=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return [f"no answer within {TIMEOUT_S:.0f} s"]
    after = snapshot(root)
    rc = result.returncode
    err = result.stderr.decode(errors="replace")
    lines = [line for line in err.splitlines() if line.strip()]
    if rc < 0:
        problems.append(f"killed by signal {-rc}")
    elif rc != int(expect_exit):
        problems.append(f"exit {rc}, expected {expect_exit}")
    if how == "warning":
        # Damage brix works around (a value no machine reports, taken as unknown): the report
        # says so in its Warnings, never in silence.
        out = result.stdout.decode(errors="replace")
        if not re.search(r"^Warnings\n  \S", out, re.M):
            problems.append("no line under Warnings in the report")
    else:
        if len(lines) != 1:
            problems.append(f"{len(lines)} lines on stderr, expected 1")
        pattern = located_pattern(how, where, args)
        if not lines or not re.search(pattern, lines[0]):
            problems.append(f"message not located (/{pattern}/)")
    if "internal:" in err:
        problems.append("an internal error")
    changed = sorted(path for path in set(before) | set(after)
                     if before.get(path) != after.get(path) and not path.startswith("sandbox/out")
                     and not (os.path.isdir(os.path.join(root, path)) and path in before and path in after))
    if changed:
        problems.append("wrote outside the target: " + ", ".join(changed[:5]))
    if os.path.exists(OUTSIDE):
        problems.append(f"wrote {OUTSIDE}")
        shutil.rmtree(OUTSIDE, ignore_errors=True)
    if problems:
        problems.append("stderr: " + err.strip()[:400])
    return problems


def cases_of(corpus):
    """(case id, class spec, case path or None, args or None) for every case, in order."""
    for cls in sorted(os.listdir(corpus)):
        folder = os.path.join(corpus, cls)
        if not os.path.isfile(os.path.join(folder, "CLASS")):
            continue
        spec = read_class(os.path.join(folder, "CLASS"))
        if spec["setup"] == "lines":
            # Every line of every *.txt file is one command line.
            for name in sorted(os.listdir(folder)):
                if not name.endswith(".txt"):
                    continue
                with open(os.path.join(folder, name)) as f:
                    for number, raw in enumerate(f, 1):
                        line = raw.rstrip("\n")
                        if line.strip() and not line.lstrip().startswith("#"):
                            yield f"{cls}/{name}:{number}", spec, None, shlex.split(line)
            continue
        for name in sorted(os.listdir(folder)):
            if name == "CLASS" or name.startswith("."):
                continue
            yield f"{cls}/{name}", spec, os.path.join(folder, name), None


SENDER = r"""
import os, socket, sys, time
lines = [bytes(l, "ascii").decode("unicode_escape").encode("latin-1") for l in sys.argv[1:]]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for line in lines:
    s.sendto(line + b"\n", os.environ["BRIX_MONITOR_SOCKET"])
# Wait until node 0's snapshot counts every line, then report once more: the job is still alive.
snapshot = os.path.join(os.environ["BRIX_BAD_INPUT_JOB"], "monitor", "snapshot.json")
deadline = time.time() + 60
while time.time() < deadline:
    try:
        if f'"rejected_lines": {len(lines)}' in open(snapshot).read():
            break
    except OSError:
        pass
    time.sleep(0.05)
s.sendto(b"rank=0 step=1 time=0.4 loss=1\n", os.environ["BRIX_MONITOR_SOCKET"])
print("counted", len(lines))
"""


def report_lines(brix, corpus, work, env):
    """Every line of report_lines/lines.txt as its own datagram to a job's collector: each is
    counted as rejected, and the job runs on (a malformed line is never fatal). Returns
    (cases, complaints)."""
    with open(os.path.join(corpus, "report_lines", "lines.txt")) as f:
        lines = [l.rstrip("\n") for l in f if l.strip() and not l.startswith("#")]
    sandbox = os.path.join(work, "report-lines", "sandbox")
    for sub in ("out", "home", "tmp"):
        os.makedirs(os.path.join(sandbox, sub))
    sender = os.path.join(sandbox, "sender.py")
    with open(sender, "w") as f:
        f.write(SENDER)
    job = os.path.join(sandbox, "out", "job")
    run_env = dict(env, BRIX_BAD_INPUT_JOB=job, HOME=os.path.join(sandbox, "home"), TMPDIR=os.path.join(sandbox, "tmp"))
    try:
        result = subprocess.run([brix, "launch", "--nproc-per-node", "1", "--log-dir", job, "--",
                                 sys.executable, sender] + lines, cwd=sandbox, env=run_env,
                                stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        return len(lines), ["report lines: the job did not end within 120 s"]
    out, err = result.stdout.decode(errors="replace"), result.stderr.decode(errors="replace")
    complaints = []
    if result.returncode != 0:
        complaints.append(f"report lines: brix launch exit {result.returncode}: {err.strip()[-400:]}")
    if f"counted {len(lines)}" not in out:
        complaints.append(f"report lines: not every malformed line was counted as rejected: {out[-300:]}")
    return len(lines), complaints


def main():
    brix, corpus = os.path.abspath(sys.argv[1]), sys.argv[2]
    only = set(sys.argv[3:])
    work = tempfile.mkdtemp(prefix="brix-bad-input-")
    # A job token, so that brix launch has no warning to give before its error.
    env = dict(os.environ, HOME=os.path.join(work, "home"), TMPDIR=os.path.join(work, "tmp"),
               BRIX_NO_COLOR="1", NO_COLOR="1", LC_ALL="C", BRIX_JOB_TOKEN="bad-input-corpus")
    env.pop("SLURM_JOB_ID", None)
    env.pop("SLURM_JOB_NODELIST", None)
    source = os.path.dirname(os.path.dirname(os.path.abspath(corpus)))
    failed, passed, counted = [], 0, 0
    for case_id, spec, case_path, args in cases_of(corpus):
        if only and case_id not in only and case_id.split(":")[0] not in only:
            continue
        counted += 1
        override = spec["cases"].get(os.path.basename(case_id), {})
        expect_exit = override.get("exit", spec["exit"])
        how = override.get("located", spec["located"])
        case_root = os.path.join(work, f"case{counted}")
        sandbox = os.path.join(case_root, "sandbox")
        for sub in ("in", "out", "home", "tmp"):
            os.makedirs(os.path.join(sandbox, sub))
        env["HOME"], env["TMPDIR"] = os.path.join(sandbox, "home"), os.path.join(sandbox, "tmp")
        os.symlink(os.path.join(source, "configs"), os.path.join(sandbox, "configs"))
        os.symlink(os.path.join(source, "tests"), os.path.join(sandbox, "tests"))
        set_up_common(sandbox)
        if args is None:
            values, where = set_up(spec, case_path, sandbox)
            where = override.get("where", spec.get("where", where))
            args = [fill(a, values) for a in shlex.split(spec["run"])]
        else:
            where = ""
            args = [fill(a, COMMON) for a in shlex.split(spec.get("run", "")) + args]
        problems = run_case(brix, case_id, args, expect_exit, how, where, sandbox, env)
        shutil.rmtree(case_root, ignore_errors=True)
        if problems:
            failed.append((case_id, " ".join(shlex.quote(a) for a in args), problems))
        else:
            passed += 1
    if not only or "report_lines" in only:
        cases, complaints = report_lines(brix, corpus, work, env)
        counted += cases
        if complaints:
            failed.append(("report_lines/lines.txt", "launch", complaints))
        else:
            passed += cases
    shutil.rmtree(work, ignore_errors=True)
    for case_id, command, problems in failed:
        print(f"FAIL: {case_id}: brix {command}")
        for problem in problems:
            print(f"    {problem}")
    print(f"{counted} malformed inputs: {passed} passed, {len(failed)} failed")
    print(f"{passed} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
