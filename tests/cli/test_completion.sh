#!/usr/bin/env bash
# brix completion bash|zsh|fish: the scripts load in their shells; in a real interactive bash
# with bash-completion, typing `brix pl<TAB>` gives `brix plan ` and `brix plan --mo<TAB>` gives
# `--model `; the value lists come from brix's own tables; scripts/install-completion.sh puts
# them where the shells look, and a second run changes nothing.
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to drive an interactive bash"; exit 77; }
bash_completion_lib=/usr/share/bash-completion/bash_completion
[ -r "$bash_completion_lib" ] || { echo "SKIP: bash-completion is not installed (apt-get install bash-completion)"; exit 77; }

run "$BRIX" completion bash
expect_rc 0 "completion bash"
printf '%s\n' "$out" >"$work/brix.bash"
run bash -n "$work/brix.bash"
expect_rc 0 "bash -n"

# The completion function, called as bash-completion calls it.
complete_words() { # complete_words WORD...: COMPREPLY for completing the last word
  bash -c 'source "$1"; source "$2"; shift 2; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _brix; printf "%s\n" "${COMPREPLY[@]}"' \
    _ "$bash_completion_lib" "$work/brix.bash" "$@"
}
expect_words() { # expect_words "EXPECTED" WORD...
  local expected=$1; shift
  checks=$((checks + 1))
  local got; got=$(complete_words "$@" | sort | tr '\n' ' ')
  [ "$got" = "$expected" ] || fail "completing '$*': got '$got', expected '$expected'"
}
expect_words "plan " brix pl
expect_words "--model " brix plan --mo
expect_words "html " brix plan calibrate --emit h
expect_words "deepspeed " brix plan --emit de
expect_words "json text yaml " brix monitor --format ""
expect_words "completion " brix co
expect_words "collect " brix monitor co
expect_words "grafana " brix monitor gr
expect_words "--http " brix monitor --ht
expect_words "bash " brix completion ba
expect_words "plan probe " brix help p
# Bundled names and the GPU catalog, read from brix's own lists.
models=$(ls "$BRIX_SOURCE_DIR/configs/models" | sed -E 's/\.(json|yaml)$//' | grep '^llama' | sort -u | tr '\n' ' ')
expect_words "$models" brix plan --model llama
expect_words "h100-sxm " brix plan --gpu h100-s
# The value of an option is not a subcommand: `--model plan` stays in plan's options.
expect_words "--model " brix plan --model plan --mo

# Real TAB presses in an interactive bash (a pseudo-terminal), with bash-completion loaded.
mkdir -p "$work/bin"
ln -s "$BRIX" "$work/bin/brix"
checks=$((checks + 1))
python3 - "$work" "$bash_completion_lib" <<'PY' || fail "TAB in an interactive bash"
import os, pty, select, sys, time
work, library = sys.argv[1], sys.argv[2]
rc = os.path.join(work, "bashrc")
with open(rc, "w") as f:
    f.write(f"PS1='$ '\nsource {library}\nsource {work}/brix.bash\nexport PATH={work}/bin:$PATH\nbind 'set bell-style none'\n")
pid, fd = pty.fork()
if pid == 0:
    os.execvp("bash", ["bash", "--noprofile", "--rcfile", rc, "-i"])
def read_for(seconds):
    out, end = b"", time.time() + seconds
    while time.time() < end:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                out += os.read(fd, 4096)
            except OSError:
                break
    return out.decode(errors="replace")
def typed(text, expect):
    os.write(fd, text.encode())
    deadline = time.time() + 10
    seen = ""
    while time.time() < deadline:
        seen += read_for(0.2)
        if expect in seen:
            return seen
    raise SystemExit(f"typing {text!r}: never saw {expect!r} in {seen!r}")
read_for(1.0)
typed("brix pl\t", "brix plan ")
typed("--mo\t", "--model ")
os.write(fd, b"\x03exit\n")
read_for(0.5)
PY

# zsh and fish: the scripts load; fish completes as bash does.
run "$BRIX" completion zsh
expect_rc 0 "completion zsh"; expect_out '^#compdef brix'
printf '%s\n' "$out" >"$work/_brix"
if command -v zsh >/dev/null; then
  run zsh -n "$work/_brix"
  expect_rc 0 "zsh -n"
else
  echo "note: zsh not installed; its script is only generated"
fi
run "$BRIX" completion fish
expect_rc 0 "completion fish"
printf '%s\n' "$out" >"$work/brix.fish"
if command -v fish >/dev/null; then
  run fish -c "source $work/brix.fish; complete -C 'brix pl'; complete -C 'brix plan --mo'; complete -C 'brix plan --emit h'"
  expect_rc 0 "fish completes"
  expect_out '^plan	'
  expect_out '^--model	'
  expect_out '^html	'
else
  echo "note: fish not installed; its script is only generated"
fi
run "$BRIX" completion tcsh
expect_rc 2 "completion tcsh"; expect_err "unknown shell 'tcsh' .*\(expected bash, zsh or fish\)"

# Installation where the shells look, idempotent.
root="$work/root"
run env BRIX_COMPLETION_ROOT="$root" "$BRIX_SOURCE_DIR/scripts/install-completion.sh" "$BRIX"
expect_rc 0 "install-completion.sh"
checks=$((checks + 1))
cmp -s "$root/usr/share/bash-completion/completions/brix" "$work/brix.bash" &&
  cmp -s "$root/usr/share/zsh/vendor-completions/_brix" "$work/_brix" &&
  cmp -s "$root/usr/share/fish/vendor_completions.d/brix.fish" "$work/brix.fish" || fail "installed scripts: $(find "$root" -type f)"
before=$(stat -c %Y "$root/usr/share/bash-completion/completions/brix")
run env BRIX_COMPLETION_ROOT="$root" "$BRIX_SOURCE_DIR/scripts/install-completion.sh" "$BRIX"
expect_rc 0 "install-completion.sh again"
expect_err "up to date"
checks=$((checks + 1))
[ "$(stat -c %Y "$root/usr/share/bash-completion/completions/brix")" = "$before" ] && ! grep -q installed <<<"$err" ||
  fail "a second install rewrote files: $err"
finish
