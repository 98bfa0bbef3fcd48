#!/usr/bin/env bash
# Installs brix's shell completion (brix completion bash|zsh|fish) where each shell looks for it.
# Idempotent: a file is written only when its content changed.
#   scripts/install-completion.sh [BRIX]   BRIX: the brix binary (default build/brix)
# As root: /usr/share/bash-completion/completions/brix, /usr/share/zsh/vendor-completions/_brix,
# /usr/share/fish/vendor_completions.d/brix.fish. Otherwise the user's own directories
# ($XDG_DATA_HOME, default ~/.local/share); zsh then needs that directory on $fpath.
#   BRIX_COMPLETION_ROOT=dir   install below dir as if it were / (tests, packaging)
set -euo pipefail
brix=${1:-build/brix}
root=${BRIX_COMPLETION_ROOT:-}
if [ -n "$root" ] || [ "$(id -u)" -eq 0 ]; then
  bash_dir=$root/usr/share/bash-completion/completions
  zsh_dir=$root/usr/share/zsh/vendor-completions
  fish_dir=$root/usr/share/fish/vendor_completions.d
else
  data=${XDG_DATA_HOME:-$HOME/.local/share}
  bash_dir=$data/bash-completion/completions
  zsh_dir=$data/zsh/site-functions
  fish_dir=$data/fish/vendor_completions.d
fi

# install_one SHELL DIR NAME
install_one() {
  local script
  script=$(mktemp)
  "$brix" completion "$1" >"$script"
  if cmp -s "$script" "$2/$3"; then
    echo "brix setup: $1 completion $2/$3 is up to date" >&2
  else
    mkdir -p "$2"
    install -m 0644 "$script" "$2/$3"
    echo "brix setup: installed $1 completion $2/$3" >&2
  fi
  rm -f "$script"
}
install_one bash "$bash_dir" brix
install_one zsh "$zsh_dir" _brix
install_one fish "$fish_dir" brix.fish
if [ -z "$root" ] && [ "$(id -u)" -ne 0 ]; then
  echo "brix setup: for zsh, add 'fpath+=($zsh_dir)' before compinit in ~/.zshrc" >&2
fi
