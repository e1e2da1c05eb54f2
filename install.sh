#!/usr/bin/env bash
# Install orenv for the current user from this checkout, or remove it.
#
#   ./install.sh [--no-rc] [--print-rc=SHELL] [--help]
#   ./install.sh --uninstall [--purge | --keep] [--no-rc]
#
# Creates a venv at ${XDG_DATA_HOME:-$HOME/.local/share}/orenv/venv, installs
# this directory into it (not editable: the checkout may be deleted later),
# links $HOME/.local/bin/orenv to it, writes completion scripts, and adds the
# hook to the rc file of each installed shell (zsh, bash, fish, nu) in a block
# between "# orenv hook" and "# orenv hook end" (replaced when run again).
# --uninstall removes all of that again.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: ./install.sh [--no-rc] [--help]
       ./install.sh --uninstall [--purge | --keep] [--no-rc]

Installs orenv for the current user:
  - a venv at ${XDG_DATA_HOME:-$HOME/.local/share}/orenv/venv with this checkout
  - a link $HOME/.local/bin/orenv
  - completion scripts: ${XDG_DATA_HOME:-$HOME/.local/share}/orenv/completions/
    (zsh, bash) and ~/.config/fish/completions/orenv.fish
  - the shell hooks, ${XDG_DATA_HOME:-$HOME/.local/share}/orenv/hook.SHELL, and
    the lines that source them in ~/.zshrc, ~/.bashrc, ~/.config/fish/config.fish
    and ~/.config/nushell/config.nu (which saves it to autoload/orenv.nu there)
    (for each shell that is installed; one block between "# orenv hook" and
    "# orenv hook end", replaced when install.sh runs again)

Options:
  --no-rc       do not touch any rc file (print what to add or remove instead)
  --print-rc=SHELL  print the block install.sh adds to SHELL's rc file, and exit
  --uninstall   remove the venv, the link, the completion scripts and the rc
                blocks; then, on a terminal, ask whether to remove orenv's keys
                from the keyring and its data, config, state and cache too
  --purge       with --uninstall: remove the keys and that data without asking
  --keep        with --uninstall: keep the keys and that data without asking
  --help        show this help
USAGE
}

mode=install
edit_rc=1
purge=ask
print_rc=""
for arg in "$@"; do
  case "$arg" in
    --no-rc) edit_rc=0 ;;
    --uninstall) mode=uninstall ;;
    --purge|--keep)
      want=yes; [ "$arg" = --keep ] && want=no
      if [ "$purge" != ask ] && [ "$purge" != "$want" ]; then
        echo "install.sh: --purge and --keep exclude each other" >&2; exit 2
      fi
      purge=$want ;;
    --print-rc=*) print_rc="${arg#--print-rc=}" ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option: $arg" >&2; usage >&2; exit 2 ;;
  esac
done
if [ "$mode" = install ] && [ "$purge" != ask ]; then
  echo "install.sh: --purge and --keep go with --uninstall" >&2; exit 2
fi

say() { printf 'orenv %s: %s\n' "$mode" "$*"; }

src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${HOME:?HOME must be set}"
# An XDG variable that is not an absolute path is ignored (as orenv/paths.py does).
xdg() { case "$1" in /*) printf '%s' "$1" ;; *) printf '%s' "$HOME/$2" ;; esac; }
data_home="$(xdg "${XDG_DATA_HOME:-}" .local/share)"
config_home="$(xdg "${XDG_CONFIG_HOME:-}" .config)"
state_home="$(xdg "${XDG_STATE_HOME:-}" .local/state)"
cache_home="$(xdg "${XDG_CACHE_HOME:-}" .cache)"
venv="$data_home/orenv/venv"
bin_dir="$HOME/.local/bin"
link="$bin_dir/orenv"
comp_dir="$data_home/orenv/completions"
fish_comp="$config_home/fish/completions/orenv.fish"
python="${PYTHON:-python3}"

rc_files=(zsh "$HOME/.zshrc" bash "$HOME/.bashrc" fish "$config_home/fish/config.fish"
  nu "$config_home/nushell/config.nu")
# nushell cannot evaluate code at run time: its rc block saves the hook here
# (nushell's autoload directory, read after config.nu) at each start.
nu_hook="$config_home/nushell/autoload/orenv.nu"
start_marker='# orenv hook'
end_marker='# orenv hook end'

on_path=0
case ":${PATH:-}:" in
  *":$bin_dir:"*) on_path=1 ;;
esac

# block SHELL: the rc lines for SHELL (zsh, bash or fish). Every line that runs
# orenv is guarded, so a shell still starts quietly after orenv was removed by hand.
# shellcheck disable=SC2016  # $HOME, $fpath...: for the rc file, not expanded here
block() {
  printf '%s\n' "$start_marker"
  if [ "$on_path" = 0 ]; then
    if [ "$1" = fish ]; then
      printf '%s\n' 'fish_add_path -g "$HOME/.local/bin"'
    elif [ "$1" = nu ]; then
      printf '%s\n' '$env.PATH = ($env.PATH | prepend ($env.HOME | path join .local bin))'
    else
      printf '%s\n' 'export PATH="$HOME/.local/bin:$PATH"'
    fi
  fi
  case "$1" in
    zsh)
      printf '%s\n' 'if [ -x "$HOME/.local/bin/orenv" ]; then' \
        '  # The hook file `orenv hook --write` made: sourced with no process when it is' \
        '  # yours, in a directory of yours, and nobody else may write either.' \
        '  # XDG_DATA_HOME counts only when absolute (the XDG rule; a relative one would' \
        '  # name a directory of whatever repository the shell starts in).' \
        '  __orenv_d=$HOME/.local/share/orenv' \
        '  [[ ${XDG_DATA_HOME-} == /* ]] && __orenv_d=$XDG_DATA_HOME/orenv' \
        '  __orenv_f=$__orenv_d/hook.zsh' \
        '  if [[ -f $__orenv_f && ! -L $__orenv_f && -O $__orenv_f && -O ${__orenv_f:h} &&' \
        '    ! -L ${__orenv_f:h} ]] && zmodload -F zsh/stat b:zstat 2>/dev/null &&' \
        '    zstat -A __orenv_m +mode -- $__orenv_f ${__orenv_f:h} 2>/dev/null &&' \
        '    (( ! ((__orenv_m[1] | __orenv_m[2]) & 8#22) )); then' \
        '    . "$__orenv_f"' \
        '  else' \
        '    eval "$("$HOME/.local/bin/orenv" hook zsh --write)"' \
        '  fi' \
        '  # Completions from a directory of yours only (zsh autoloads what fpath holds).' \
        '  if [[ -d $__orenv_d/completions && ! -L $__orenv_d/completions &&' \
        '    -O $__orenv_d/completions && -O $__orenv_d/completions/_orenv ]]; then' \
        '    fpath=("$__orenv_d/completions" $fpath)' \
        '    if (( $+functions[compdef] )); then autoload -Uz _orenv && compdef _orenv orenv; fi' \
        '  fi' \
        '  unset __orenv_d __orenv_f __orenv_m' \
        'fi' ;;
    bash)
      printf '%s\n' 'if [ -x "$HOME/.local/bin/orenv" ]; then' \
        '  # The hook file `orenv hook --write` made: sourced with no process when it and' \
        '  # its directory are yours (bash has no builtin that reads a mode).' \
        '  # XDG_DATA_HOME counts only when absolute (the XDG rule; a relative one would' \
        '  # name a directory of whatever repository the shell starts in).' \
        '  __orenv_d=$HOME/.local/share/orenv' \
        '  [[ ${XDG_DATA_HOME-} == /* ]] && __orenv_d=$XDG_DATA_HOME/orenv' \
        '  __orenv_f=$__orenv_d/hook.bash' \
        '  if [[ -f $__orenv_f && ! -L $__orenv_f && -O $__orenv_f && -O ${__orenv_f%/*} &&' \
        '    ! -L ${__orenv_f%/*} ]]; then' \
        '    . "$__orenv_f"' \
        '  else' \
        '    eval "$("$HOME/.local/bin/orenv" hook bash --write)"' \
        '  fi' \
        '  __orenv_f=$__orenv_d/completions/orenv.bash' \
        '  if [[ -f $__orenv_f && ! -L $__orenv_f && -O $__orenv_f && -O ${__orenv_f%/*} &&' \
        '    ! -L ${__orenv_f%/*} ]]; then' \
        '    . "$__orenv_f"' \
        '  fi' \
        '  unset __orenv_d __orenv_f' \
        'fi' ;;
    fish)
      printf '%s\n' 'if test -x "$HOME/.local/bin/orenv"' \
        '    # The hook file `orenv hook --write` made: sourced with no process when it and' \
        '    # its directory are yours (fish has no builtin that reads a mode).' \
        '    set -l __orenv_f $HOME/.local/share/orenv/hook.fish' \
        '    string match -q "/*" -- "$XDG_DATA_HOME"; and set __orenv_f $XDG_DATA_HOME/orenv/hook.fish' \
        '    set -l __orenv_d (path dirname -- $__orenv_f)' \
        '    if test -f $__orenv_f; and not test -L $__orenv_f; and test -O $__orenv_f' \
        '        and test -O $__orenv_d; and not test -L $__orenv_d' \
        '        source $__orenv_f' \
        '    else' \
        '        "$HOME/.local/bin/orenv" hook fish --write | source' \
        '    end' \
        'end' ;;
    nu)
      printf '%s\n' 'if ($env.HOME | path join .local bin orenv | path exists) {' \
        '    # The hook nushell loads from its autoload directory: saved again (one' \
        '    # process) only when it is missing, out of date (orenv upgraded, moved or' \
        '    # edited: the files on its "orenv-inputs" line), or not yours alone.' \
        '    let dir = ($nu.user-autoload-dirs | first)' \
        '    let f = ($dir | path join orenv.nu)' \
        '    let fresh = (try {' \
        '        let me = (ls -lD $nu.config-path | first | get user)' \
        '        let fi = (ls -lD $f | first)' \
        '        let di = (ls -lD $dir | first)' \
        "        let open_to_others = {|m| let c = (\$m | split chars); (\$c | get 4) == 'w' or (\$c | get 7) == 'w' }" \
        "        let inputs = (open --raw \$f | lines | where (\$it | str starts-with '# orenv-inputs: ')" \
        '            | first | str substring 16.. | from json)' \
        '        ($fi.type == file and $di.type == dir and $fi.user == $me and $di.user == $me' \
        '            and not (do $open_to_others $fi.mode) and not (do $open_to_others $di.mode)' \
        '            and ($inputs | all {|p| ($p | path exists) and (ls -lD $p | first | get modified) <= $fi.modified }))' \
        '    } catch { false })' \
        '    if not $fresh {' \
        '        mkdir $dir' \
        '        ^($env.HOME | path join .local bin orenv) hook nu --write | save -f $f' \
        '    }' \
        '} else {' \
        '    rm -f ($nu.user-autoload-dirs | first | path join orenv.nu)' \
        '}' ;;
  esac
  printf '%s\n' "$end_marker"
}

# rewrite_rc RCFILE [NEWBLOCKFILE]: RCFILE's text with orenv's block put back as
# NEWBLOCKFILE where the first one was (dropped without it). A block runs to its
# end marker; one written before there was an end marker is its start marker
# and the lines install.sh wrote then (nothing else of the user's is dropped).
# shellcheck disable=SC2016
rewrite_rc() {
  awk -v start="$start_marker" -v end="$end_marker" -v new="${2:-}" \
    -v o1='export PATH="$HOME/.local/bin:$PATH"' \
    -v o2='fish_add_path -g "$HOME/.local/bin"' \
    -v o3='eval "$("$HOME/.local/bin/orenv" hook zsh)"' \
    -v o4='eval "$("$HOME/.local/bin/orenv" hook bash)"' \
    -v o5='"$HOME/.local/bin/orenv" hook fish | source' '
    { line[NR] = $0 }
    END {
      old[o1]; old[o2]; old[o3]; old[o4]; old[o5]
      i = 1; placed = 0
      while (i <= NR) {
        if (line[i] != start) { print line[i]; i++; continue }
        j = i + 1
        while (j <= NR && line[j] != end && line[j] != start) j++
        if (j <= NR && line[j] == end) {
          i = j + 1
        } else {
          i++
          while (i <= NR && (line[i] in old)) i++
        }
        if (new != "" && !placed) {
          while ((getline l < new) > 0) print l
          placed = 1
        }
      }
    }' "$1"
}

# write_file FILE TEXTFILE: FILE's content becomes TEXTFILE's, in place (a
# symlinked rc file stays a link, its mode stays).
write_file() { cat "$2" >"$1"; }

tmp_dir="$(mktemp -d)"
trap 'rm -rf "$tmp_dir"' EXIT

# add_hook SHELL RCFILE: add the block, or replace the one already there.
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
  block "$sh" >"$tmp_dir/block"
  if [ -f "$rc" ] && grep -qxF "$start_marker" "$rc"; then
    rewrite_rc "$rc" "$tmp_dir/block" >"$tmp_dir/rc"
    if cmp -s "$rc" "$tmp_dir/rc"; then
      say "$rc already has the orenv hook"
    else
      write_file "$rc" "$tmp_dir/rc"
      say "updated the orenv hook in $rc"
    fi
    return 0
  fi
  mkdir -p "$(dirname "$rc")"
  # Start on a fresh line even if the file does not end with a newline.
  if [ -s "$rc" ] && [ -n "$(tail -c 1 "$rc")" ]; then printf '\n' >>"$rc"; fi
  cat "$tmp_dir/block" >>"$rc"
  say "added the orenv hook to $rc"
}

# remove_hook RCFILE: take orenv's block out (the file goes if nothing else is left).
remove_hook() {
  local rc="$1"
  if [ ! -f "$rc" ] || ! grep -qxF "$start_marker" "$rc"; then
    return 0
  fi
  if [ "$edit_rc" = 0 ]; then
    say "--no-rc: remove the lines from '$start_marker' to '$end_marker' in $rc"
    return 0
  fi
  rewrite_rc "$rc" >"$tmp_dir/rc"
  if [ -s "$tmp_dir/rc" ]; then
    write_file "$rc" "$tmp_dir/rc"
  else
    rm -f "$rc"
  fi
  say "removed the orenv hook from $rc"
}

# is_ours FILE: a completion script written by `orenv completion`.
is_ours() { [ -f "$1" ] && grep -qF 'orenv completion --list' "$1"; }

# put_completion SHELL FILE: write orenv's completion script for SHELL to FILE.
put_completion() {
  if [ -e "$2" ] && ! is_ours "$2"; then
    say "left $2 alone (not written by orenv)"
    return 0
  fi
  mkdir -p "$(dirname "$2")"
  "$venv/bin/orenv" completion "$1" >"$2.tmp"
  chmod 644 "$2.tmp"  # code your shell loads: nobody else may write it, whatever the umask
  mv -f "$2.tmp" "$2"
}

install() {
  command -v "$python" >/dev/null 2>&1 || { echo "install.sh: $python not found" >&2; exit 1; }

  # orenv's data directory holds the hook files the rc lines source: private
  # whatever the umask (002 on Fedora/RHEL would leave it group-writable).
  mkdir -p "$(dirname "$venv")"
  chmod 700 "$(dirname "$venv")"
  if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
    say "created venv $venv"
  fi
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade "$src" </dev/null
  say "installed $("$venv/bin/orenv" --version 2>/dev/null || echo orenv) into $venv"

  mkdir -p "$bin_dir"
  ln -sfn "$venv/bin/orenv" "$link"
  say "linked $link -> $venv/bin/orenv"

  put_completion zsh "$comp_dir/_orenv"
  put_completion bash "$comp_dir/orenv.bash"
  if command -v fish >/dev/null 2>&1; then
    put_completion fish "$fish_comp"
  fi
  say "wrote completion scripts to $comp_dir$(command -v fish >/dev/null 2>&1 &&
    printf ' and %s' "$fish_comp")"

  # The hook files the rc blocks source (a shell start runs no process); each
  # renews itself when orenv changes. Through the link, so they name it.
  local notes=""
  if notes="$("$link" hook --write 2>&1)"; then
    say "wrote the shell hooks to $data_home/orenv/hook.{zsh,bash,fish,nu}"
  fi
  if [ -n "$notes" ]; then printf '%s\n' "$notes" >&2; fi

  local i
  for ((i = 0; i < ${#rc_files[@]}; i += 2)); do
    add_hook "${rc_files[i]}" "${rc_files[i + 1]}"
  done

  if [ "$edit_rc" = 1 ]; then
    say "done; open a new shell (or source your rc file) to activate the hook"
  else
    say "done"
  fi
}

# purge_data: orenv's keys out of the keyring, then its own directories.
purge_data() {
  local dirs=("$config_home/orenv" "$data_home/orenv" "$state_home/orenv" "$cache_home/orenv")
  if [ -x "$venv/bin/orenv" ]; then
    local names=() name failed=0
    mapfile -t names < <("$venv/bin/orenv" completion --list keys 2>/dev/null || true)
    for name in "${names[@]}"; do
      # Its notes (a provisioned key still exists upstream) go to stderr.
      "$venv/bin/orenv" key rm "$name" >/dev/null || failed=1
    done
    if [ "$failed" = 1 ]; then
      say "kept orenv's data (${dirs[*]}): some keys could not be removed from the keyring"
      return 1
    fi
    if [ "${#names[@]}" -gt 0 ]; then
      say "removed the keys ${names[*]} from the keyring"
    else
      say "no keys to remove from the keyring"
    fi
  else
    say "kept orenv's data (${dirs[*]}): without its venv orenv cannot remove its keys" \
      "from the keyring (service 'orenv'; the names are in $data_home/orenv/keys.json)"
    return 1
  fi
  local d
  for d in "${dirs[@]}"; do
    if [ -e "$d" ]; then rm -rf "$d"; say "removed $d"; fi
  done
}

uninstall() {
  if [ -x "$venv/bin/orenv" ]; then
    "$venv/bin/orenv" daemon stop --quiet >/dev/null 2>&1 || true
  fi
  if [ "$purge" = ask ]; then
    purge=no
    if [ -t 0 ]; then
      local answer=""
      printf 'Also remove orenv'\''s keys from the keyring, and its trust records, config, ' >&2
      printf 'state and cache? [y/N] ' >&2
      read -r answer || answer=""
      case "$answer" in y|Y|yes|YES|Yes) purge=yes ;; esac
    fi
  fi
  local kept=0
  if [ "$purge" = yes ]; then
    purge_data || kept=1
  else
    kept=1
  fi

  local f
  for f in "$comp_dir/_orenv" "$comp_dir/orenv.bash" "$fish_comp"; do
    if is_ours "$f"; then rm -f "$f"; say "removed $f"; fi
  done
  if [ -f "$nu_hook" ] && grep -qF '# orenv hook for nu' "$nu_hook"; then
    rm -f "$nu_hook"
    say "removed $nu_hook"
  fi
  for f in "$data_home"/orenv/hook.{zsh,bash,fish,nu}; do
    if [ -f "$f" ] && grep -qF '# orenv hook for ' "$f"; then rm -f "$f"; say "removed $f"; fi
  done
  rmdir "$comp_dir" "$(dirname "$fish_comp")" 2>/dev/null || true
  if [ -L "$link" ] && [ "$(readlink "$link")" = "$venv/bin/orenv" ]; then
    rm -f "$link"
    say "removed $link"
  fi
  if [ -f "$venv/pyvenv.cfg" ]; then
    rm -rf "$venv"
    say "removed $venv"
  fi
  rmdir "$data_home/orenv" 2>/dev/null || true

  local i
  for ((i = 0; i < ${#rc_files[@]}; i += 2)); do
    remove_hook "${rc_files[i + 1]}"
  done

  if [ "$kept" = 1 ] && [ "$purge" = no ]; then
    say "kept your keys in the keyring and orenv's data, config and state" \
      "($config_home/orenv, $data_home/orenv, $state_home/orenv);" \
      "\`./install.sh --uninstall --purge\` removes them"
  fi
  say "done; your projects' .orenv.toml files (and settings written by \`orenv helper on\`)" \
    "are left as they are"
}

if [ -n "$print_rc" ]; then
  case "$print_rc" in zsh|bash|fish|nu) block "$print_rc"; exit 0 ;; esac
  echo "install.sh: --print-rc=SHELL: zsh, bash, fish or nu" >&2; exit 2
fi
if [ "$mode" = install ]; then install; else uninstall; fi
