#!/usr/bin/env python3
"""Docs that cannot go stale: runs every command of README.md's code blocks and of the man pages'
EXAMPLES sections, in document order, in one scratch folder (so a command finds the files the
commands before it wrote, as a reader following the page would), and fails when one fails.
Commands that need what a test machine has not (a GPU, a Slurm cluster, a running job, a
642 GB checkpoint) are listed in not-run.txt with the reason; a command that is neither run
nor listed, or a listed command that the docs no longer have, fails the test too.
Then checks that README's "What the default job finds" paragraph is what
scripts/readme_figures.py writes from `brix plan --format json`.

usage: run_docs.py BRIX_BUILD_DIR SOURCE_DIR
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

TIMEOUT_S = 300
PROGRAMS = ("build/brix", "brix ", "scripts/", "srun ", "sbatch ", "BRIX_MONITOR_SOCKET=")


def strip_comment(line):
    """Drops a trailing `# comment` (two or more spaces before it, as the docs write them)."""
    return re.split(r"\s{2,}#\s", line, maxsplit=1)[0].rstrip()


def readme_commands(path):
    """Indented code lines that start with a program; a line ending in a backslash continues on
    the next (more deeply indented) line, as a shell reads it."""
    commands = []
    in_fence = False
    with open(path) as f:
        lines = f.read().split("\n")
    number = 0
    while number < len(lines):
        line = lines[number]
        number += 1
        if line.startswith("```"):
            in_fence = not in_fence
            continue
        if in_fence or not line.startswith("    ") or line.startswith("     "):
            continue
        text = strip_comment(line[4:])
        start = number
        while text.endswith("\\") and number < len(lines):
            text = text[:-1].rstrip() + " " + strip_comment(lines[number].strip())
            number += 1
        if text.startswith(PROGRAMS):
            commands.append((f"README.md:{start}", text))
    return commands


def man_unescape(text):
    return text.replace("\\-", "-").replace("\\e", "\\").replace("\\(em", "-").replace('\\"', '"')


def man_commands(path):
    """Lines of the EXAMPLES section that run a program: `.B command` lines and the lines of
    .nf/.fi and .EX/.EE blocks, with `\\e` line continuations joined."""
    commands = []
    in_examples = False
    pending = None
    with open(path) as f:
        lines = f.read().splitlines()
    for number, raw in enumerate(lines, 1):
        if raw.startswith(".SH"):
            in_examples = raw.split(None, 1)[1].strip('"') in ("EXAMPLES", "EXAMPLE")
            continue
        if not in_examples or raw.startswith((".nf", ".fi", ".EX", ".EE", ".PP", ".RS", ".RE", ".TP", ".IP")):
            continue
        text = man_unescape(raw[3:] if raw.startswith(".B ") else raw)
        if pending:
            where, start = pending
            text = start + " " + text.strip()
        elif not text.startswith(PROGRAMS):
            continue
        else:
            where = f"{os.path.relpath(path)}:{number}"
        if text.endswith("\\"):
            pending = (where, text[:-1].rstrip())
            continue
        pending = None
        commands.append((where, strip_comment(text)))
    return commands


def read_not_run(path):
    """`command || reason` lines; the reason `exit N: why` means: run it, expect exit N."""
    entries = {}
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            command, reason = (part.strip() for part in line.split("||", 1))
            entries[command] = reason
    return entries


def set_up(scratch, build, source):
    """What the docs take for granted in the folder a reader works in."""
    brix = os.path.join(build, "brix")
    os.makedirs(os.path.join(scratch, "build"))
    for program in ("brix", "brix-worker"):
        os.symlink(os.path.join(build, program), os.path.join(scratch, "build", program))
    for folder in ("configs", "tests", "scripts", "man"):
        os.symlink(os.path.join(source, folder), os.path.join(scratch, folder))
    os.makedirs(os.path.join(scratch, "bin"))
    os.symlink(brix, os.path.join(scratch, "bin", "brix"))
    os.symlink(os.path.join(build, "brix-worker"), os.path.join(scratch, "bin", "brix-worker"))
    # probes/: what `srun brix probe --out probes/` writes on h800-2048's 256 nodes, here the DGX
    # H100 fixture under 256 names, so that the README's plan (h800-2048) fits its cluster.yaml.
    probes = os.path.join(scratch, "probes")
    os.makedirs(probes)
    report = subprocess.run([brix, "probe", "--topology", os.path.join(source, "tests/fixtures/hwloc/dgx-h100.xml"),
                             "--format", "yaml"], capture_output=True, text=True, check=True).stdout
    for node in range(256):
        with open(os.path.join(probes, f"node{node:03}.yaml"), "w") as f:
            f.write(report.replace("host: dgx-h100", f"host: node{node:03}", 1))
    # ckpt/ and its mirror ckpt2/: a brix checkpoint store of three saves.
    subprocess.run([os.path.join(build, "brix-worker"), "checkpoint-stress", "--dir", os.path.join(scratch, "ckpt"),
                    "--bytes", "65536", "--chunk", "4096", "--saves", "3", "--keep", "0",
                    "--mirror", os.path.join(scratch, "ckpt2")], capture_output=True, check=True)


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    commands = readme_commands(os.path.join(source, "README.md"))
    for page in sorted(os.listdir(os.path.join(source, "man"))):
        commands += man_commands(os.path.join(source, "man", page))
    not_run = read_not_run(os.path.join(source, "tests/docs/not-run.txt"))
    scratch = tempfile.mkdtemp(prefix="brix-docs-")
    failures, ran, skipped, seen = 0, 0, 0, set()
    try:
        set_up(scratch, build, source)
        env = dict(os.environ, PATH=os.path.join(scratch, "bin") + ":" + os.environ["PATH"])
        for where, command in commands:
            seen.add(command)
            reason = not_run.get(command)
            expect = 0
            if reason is not None:
                match = re.match(r"exit (\d+):", reason)
                if not match:
                    skipped += 1
                    print(f"not run: {where}: {command}  ({reason})")
                    continue
                expect = int(match.group(1))
            try:
                result = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=scratch, env=env,
                                        stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                        timeout=TIMEOUT_S)
                rc, err = result.returncode, result.stderr
            except subprocess.TimeoutExpired:
                rc, err = "timeout", ""
            ran += 1
            if rc != expect:
                failures += 1
                print(f"FAIL: {where}: {command}\n    exit {rc}, expected {expect}: {err.strip()[-600:]}")
            else:
                print(f"ok: {where}: {command}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for command in sorted(set(not_run) - seen):
        failures += 1
        print(f"FAIL: tests/docs/not-run.txt lists a command the docs no longer have: {command}")

    # The README's figures of the default job are the script's output, word for word.
    figures = subprocess.run([sys.executable, os.path.join(source, "scripts/readme_figures.py"), "--check",
                              "--brix", os.path.join(build, "brix"), os.path.join(source, "README.md")],
                             capture_output=True, text=True)
    if figures.returncode != 0:
        failures += 1
        print(f"FAIL: README.md's figures of the default job differ from scripts/readme_figures.py's:\n"
              f"{figures.stdout}{figures.stderr}")
    else:
        ran += 1
        print("ok: README.md's figures of the default job are scripts/readme_figures.py's")
    print(f"{max(ran - failures, 0)} passed, {failures} failed, {skipped} skipped")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
