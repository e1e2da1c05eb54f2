#!/usr/bin/env bash
# Install orenv for the current user from this checkout.
#
#   ./install.sh [--no-rc] [--help]
#
# Creates a venv at ${XDG_DATA_HOME:-$HOME/.local/share}/orenv/venv, installs
# this directory into it (not editable: the checkout may be deleted later),
# links $HOME/.local/bin/orenv to it, and adds the hook to the rc file of each
# installed shell (zsh, bash, fish), once, in a block marked "# orenv hook".
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: ./install.sh [--no-rc] [--help]

Installs orenv for the current user:
  - a venv at ${XDG_DATA_HOME:-$HOME/.local/share}/orenv/venv with this checkout
  - a link $HOME/.local/bin/orenv
  - the shell hook in ~/.zshrc, ~/.bashrc and ~/.config/fish/config.fish
    (for each shell that is installed; added once, marked "# orenv hook")

Options:
  --no-rc   do not touch any rc file (print the lines to add instead)
  --help    show this help
USAGE
}

edit_rc=1
for arg in "$@"; do
  case "$arg" in
    --no-rc) edit_rc=0 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option: $arg" >&2; usage >&2; exit 2 ;;
  esac
done

say() { printf 'orenv install: %s\n' "$*"; }

src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${HOME:?HOME must be set}"
data_home="${XDG_DATA_HOME:-$HOME/.local/share}"
venv="$data_home/orenv/venv"
bin_dir="$HOME/.local/bin"
python="${PYTHON:-python3}"

command -v "$python" >/dev/null 2>&1 || { echo "install.sh: $python not found" >&2; exit 1; }

if [ ! -x "$venv/bin/python" ]; then
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv"
  say "created venv $venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade "$src" </dev/null
say "installed $("$venv/bin/orenv" --version 2>/dev/null || echo orenv) into $venv"

mkdir -p "$bin_dir"
ln -sfn "$venv/bin/orenv" "$bin_dir/orenv"
say "linked $bin_dir/orenv -> $venv/bin/orenv"

on_path=0
case ":${PATH:-}:" in
  *":$bin_dir:"*) on_path=1 ;;
esac

marker='# orenv hook'

# block SHELL: the lines to add for SHELL (zsh, bash or fish).
block() {
  printf '%s\n' "$marker"
  if [ "$on_path" = 0 ]; then
    if [ "$1" = fish ]; then
      # shellcheck disable=SC2016  # $HOME is for the rc file, not expanded here
      printf '%s\n' 'fish_add_path -g "$HOME/.local/bin"'
    else
      # shellcheck disable=SC2016
      printf '%s\n' 'export PATH="$HOME/.local/bin:$PATH"'
    fi
  fi
  if [ "$1" = fish ]; then
    # shellcheck disable=SC2016
    printf '%s\n' '"$HOME/.local/bin/orenv" hook fish | source'
  else
    # shellcheck disable=SC2016
    printf 'eval "$("$HOME/.local/bin/orenv" hook %s)"\n' "$1"
  fi
}

# add_hook SHELL RCFILE: append the block unless the marker is already there.
add_hook() {
  local sh="$1" rc="$2"
  if ! command -v "$sh" >/dev/null 2>&1; then
    return 0
  fi
  if [ "$edit_rc" = 0 ]; then
    say "--no-rc: for $sh, add to $rc:"
    block "$sh" | sed 's/^/    /'
    return 0
  fi
  if [ -f "$rc" ] && grep -qxF "$marker" "$rc"; then
    say "$rc already has the orenv hook"
    return 0
  fi
  mkdir -p "$(dirname "$rc")"
  # Start on a fresh line even if the file does not end with a newline.
  local sep=""
  if [ -s "$rc" ] && [ -n "$(tail -c 1 "$rc")" ]; then sep=$'\n'; fi
  printf '%s%s\n' "$sep" "$(block "$sh")" >>"$rc"
  say "added the orenv hook to $rc"
}

add_hook zsh "$HOME/.zshrc"
add_hook bash "$HOME/.bashrc"
add_hook fish "$HOME/.config/fish/config.fish"

if [ "$edit_rc" = 1 ]; then
  say "done; open a new shell (or source your rc file) to activate the hook"
else
  say "done"
fi
