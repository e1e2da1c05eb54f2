# orenv hook for zsh. Install with:  eval "$(orenv hook zsh)"
#
# An idle prompt runs no process: it compares $PWD with the last directory
# and tests the watched files' times against a per-session reference file
# with the [[ -nt ]] builtin. On a change it asks the daemon (zsh: over its
# socket with builtins; bash/fish: one small client), or `orenv export zsh`
# when the daemon cannot answer. With no .orenv.toml at or above $PWD there
# is nothing to ask: the hook looks for one itself, with builtins, on cd and
# at each prompt (one created above is picked up at the next prompt).
#
# Values orenv replaced are kept in the non-exported arrays below, never in
# the environment, and are put back exactly when the policy no longer applies.

typeset -g __orenv_bin=@ORENV_BIN@
typeset -g __orenv_pwd='' __orenv_ref='' __orenv_lastmsg='' __orenv_gotmsg=0
# The daemon answers over a Unix socket in the runtime directory, which zsh
# reaches with builtins: no process on cd either (__orenv_rtdir picks the
# directory; ORENV_NO_DAEMON=1 keeps to `orenv export`).
typeset -g __orenv_sock=''
typeset -g __orenv_why=cd __orenv_out=''
typeset -gi __orenv_none=0
typeset -gF __orenv_dtry=0
typeset -ga __orenv_names __orenv_watchlist __orenv_absent __orenv_cands
typeset -gA __orenv_saved __orenv_local

# A shell started inside an active project inherits the exported values but
# not the saved originals (those are never exported). Adopt what the parent
# applied, so that leaving the project unsets it.
if [[ -n ${ORENV_VARS-} ]] && (( ${#__orenv_names} == 0 )); then
  __orenv_names=(${=ORENV_VARS})
fi

__orenv_set() {
  # NAME VALUE: remember the value NAME had before orenv (once), then export.
  if (( ! ${__orenv_names[(Ie)$1]} )); then
    __orenv_names+=("$1")
    if (( ${+parameters[$1]} )); then
      __orenv_saved[$1]=${(P)1}
      [[ ${parameters[$1]} == *export* ]] || __orenv_local[$1]=1
    fi
  fi
  export "$1=$2"
}

__orenv_unset() {
  if (( ! ${__orenv_names[(Ie)$1]} )); then
    __orenv_names+=("$1")
    if (( ${+parameters[$1]} )); then
      __orenv_saved[$1]=${(P)1}
      [[ ${parameters[$1]} == *export* ]] || __orenv_local[$1]=1
    fi
  fi
  unset "$1"
}

__orenv_restore() {
  local n
  for n in "${__orenv_names[@]}"; do
    if (( ${+__orenv_saved[$n]} )); then
      if (( ${+__orenv_local[$n]} )); then
        typeset -g +x "$n=${__orenv_saved[$n]}"
      else
        export "$n=${__orenv_saved[$n]}"
      fi
    else
      unset "$n"
    fi
  done
  __orenv_names=()
  __orenv_saved=()
  __orenv_local=()
}

__orenv_watching() {
  # REF FILE... - ABSENT...: reload when a FILE is newer than REF or gone, or
  # an ABSENT path appears (paths are absolute: the lone - cannot be one).
  __orenv_ref=$1
  shift
  local i=${@[(ie)-]}
  __orenv_watchlist=("${@[1,i-1]}")
  __orenv_absent=("${@[i+1,-1]}")
}

__orenv_msg() {
  # Say each message once per change, not at every cd inside a project.
  __orenv_gotmsg=1
  [[ $1 == "$__orenv_lastmsg" ]] && return 0
  __orenv_lastmsg=$1
  print -r -- "$1" >&2
}

__orenv_jstr() {
  # $1 as a JSON string, in __orenv_j (builtins only).
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  __orenv_j=\"$s\"
}

__orenv_find() {
  # Is there a .orenv.toml at or above $PWD? (What orenv's find_nearest looks
  # for: anything by that name, even a dangling link; the daemon judges it.)
  # The paths are kept for the idle prompt's check (__orenv_found).
  local d=${PWD%/}
  __orenv_cands=()
  while :; do
    __orenv_cands+=("$d/.orenv.toml")
    [[ -n $d ]] || break
    d=${d%/*}
  done
  __orenv_found
}

__orenv_found() {
  local f
  for f in "${__orenv_cands[@]}"; do
    [[ -e $f || -L $f ]] && return 0
  done
  return 1
}

__orenv_private() {
  # Is $1 a directory only this user can write: a real directory (no link),
  # ours, no group/other permissions, in a parent that is ours or sticky (so
  # nobody can swap it)? The same rule as orenv.paths.private_dir_state.
  local p=${1%/*}
  [[ -n $p ]] || p=/
  [[ -d $p && ( -O $p || -k $p ) && -d $1 && ! -L $1 && -O $1 ]] || return 1
  zmodload -F zsh/stat b:zstat 2>/dev/null || return 1
  local -a m
  zstat -L -A m +mode -- "$1" 2>/dev/null || return 1
  (( (m[1] & 8#77) == 0 ))
}

__orenv_rtdir() {
  # The runtime directory orenv.paths.runtime_dir picks, in __orenv_sock's
  # directory: the first candidate that is private; one another user made
  # first (a shared /tmp) is passed over; a missing one that can be made ends
  # the search (`orenv export` makes it, the daemon starts there).
  local c p
  local -a cands
  [[ ${XDG_RUNTIME_DIR-} == /* ]] && cands+=("$XDG_RUNTIME_DIR/orenv")
  if [[ ${TMPDIR-} == /* ]]; then cands+=("$TMPDIR/orenv-$UID"); else cands+=("/tmp/orenv-$UID"); fi
  if [[ ${XDG_STATE_HOME-} == /* ]]; then
    cands+=("$XDG_STATE_HOME/orenv/run")
  else
    cands+=("$HOME/.local/state/orenv/run")
  fi
  for c in "${cands[@]}"; do
    if [[ ! -e $c && ! -L $c ]]; then
      p=${c%/*}
      [[ $c == "${cands[-1]}" || ( -d $p && -w $p && ( -O $p || -k $p ) ) ]] && return 1
      continue
    fi
    if __orenv_private "$c"; then
      __orenv_sock=$c/daemon.sock
      return 0
    fi
  done
  return 1
}

__orenv_bytes() {
  # The length of $1 in bytes, in REPLY (no process).
  setopt localoptions nomultibyte
  REPLY=${#1}
}

__orenv_ask() {
  # Ask the daemon over its socket; the code lands in __orenv_out only when the
  # whole answer (ending with this request's nonce) arrived within 0.45 s. Only
  # a socket that is ours, in a directory only we can write, is ever asked:
  # its answer is evaluated. It holds the key: never traced.
  setopt localoptions noxtrace noverbose
  [[ -z ${ORENV_NO_DAEMON-} ]] && __orenv_rtdir || return 1
  [[ -S $__orenv_sock && ! -L $__orenv_sock && -O $__orenv_sock ]] || return 1
  zmodload zsh/net/socket zsh/system zsh/datetime 2>/dev/null || return 1
  setopt localoptions localtraps
  trap '' PIPE
  local __orenv_j req env='' n fd buf out='' nonce=$$.$RANDOM$RANDOM
  integer rc=1
  local -F deadline left
  for n in CLAUDE_CODE_EXTRA_BODY ANTHROPIC_CUSTOM_HEADERS CLAUDE_CONFIG_DIR HOME \
      CLAUDE_CODE_USE_COWORK_PLUGINS ORENV_QUIET; do
    if (( ${+parameters[$n]} )) && [[ ${parameters[$n]} == *export* ]]; then
      __orenv_jstr "${(P)n}"
      env+="${env:+,}\"$n\":$__orenv_j"
    fi
  done
  __orenv_jstr "$PWD"
  req="{\"op\":\"export\",\"shell\":\"zsh\",\"session\":\"$$\",\"why\":\"$__orenv_why\",\"cwd\":$__orenv_j,\"env\":{$env},\"end\":\"$nonce\"}"
  # A socket path longer than a Unix socket takes (103 bytes) is reached
  # through a descriptor of its directory, as the daemon bound it (Linux).
  local sock=$__orenv_sock dfd=''
  __orenv_bytes "$__orenv_sock"
  if (( REPLY > 103 )); then
    [[ -d /proc/self/fd && -r ${__orenv_sock%/*} ]] || return 1
    # The braces keep 2>/dev/null to this line: on `exec` itself it would
    # silence the shell's stderr for good.
    { exec {dfd}<"${__orenv_sock%/*}" } 2>/dev/null || return 1
    sock=/proc/self/fd/$dfd/daemon.sock
  fi
  zsocket "$sock" 2>/dev/null
  rc=$?
  [[ -n $dfd ]] && exec {dfd}<&-
  (( rc == 0 )) || return 1
  fd=$REPLY
  if ! syswrite -o $fd -- "$req"$'\n' 2>/dev/null; then
    exec {fd}>&-
    return 1
  fi
  deadline=$(( EPOCHREALTIME + 0.45 ))
  while :; do
    left=$(( deadline - EPOCHREALTIME ))
    (( left > 0 )) || { rc=4; break; }
    buf=''
    sysread -t $left -s 65536 -i $fd buf 2>/dev/null
    rc=$?
    (( rc == 0 )) || break
    out+=$buf
  done
  exec {fd}>&-
  # 5: end of file, the daemon closed after a full answer.
  [[ $rc == 5 && $out == (|*$'\n')"__orenv_end $nonce"$'\n' ]] || return 1
  __orenv_out=${out%"__orenv_end $nonce"$'\n'}
  return 0
}

__orenv_spawn() {
  # Start the daemon in the background (at most every 5 s); never waits.
  [[ -z ${ORENV_NO_DAEMON-} ]] || return 0
  zmodload zsh/datetime 2>/dev/null || return 0
  (( EPOCHREALTIME - __orenv_dtry > 5 )) || return 0
  __orenv_dtry=$EPOCHREALTIME
  "$__orenv_bin" daemon start --quiet --wait 0 </dev/null >/dev/null 2>&1 &!
}

__orenv_reload() {
  # The key and the values orenv saved (your own ANTHROPIC_API_KEY) pass
  # through here: no xtrace or verbose output of them, and no DEBUG trap of
  # yours sees them in $ZSH_DEBUG_CMD. Your options and traps are back as they
  # were when this returns.
  setopt localoptions localtraps noxtrace noverbose
  local out had=${#__orenv_names}
  trap - DEBUG
  trap '' INT
  __orenv_pwd=$PWD
  __orenv_gotmsg=0
  __orenv_restore
  __orenv_none=0
  if ! __orenv_find; then
    # No policy: the answer is "nothing", which the restore above applied.
    __orenv_none=1
    __orenv_watchlist=()
    __orenv_absent=()
  elif __orenv_ask; then
    eval "$__orenv_out"
    __orenv_out=''  # it holds the key: no global keeps it past its use
  else
    # What is left of the prompt's 1 s after a failed daemon attempt.
    out=$("$__orenv_bin" export zsh --session "$$" --deadline 0.4)
    eval "$out"
    out=''
    __orenv_spawn
  fi
  __orenv_why=change
  if (( ! __orenv_gotmsg )); then
    (( had && ! ${#__orenv_names} )) && print -r -- "orenv: unloaded" >&2
    __orenv_lastmsg=''
  fi
}

__orenv_precmd() {
  # First, before anything that could touch the key (see __orenv_reload).
  setopt localoptions noxtrace noverbose
  emulate -L zsh
  if [[ $PWD != "$__orenv_pwd" ]]; then
    __orenv_why=cd
    __orenv_reload
    return 0
  fi
  if (( __orenv_none )); then
    if __orenv_found; then
      __orenv_why=change
      __orenv_reload
    fi
    return 0
  fi
  local f
  for f in "${__orenv_watchlist[@]}"; do
    if [[ ! -e $f || $f -nt $__orenv_ref ]]; then
      __orenv_why=change
      __orenv_reload
      return 0
    fi
  done
  for f in "${__orenv_absent[@]}"; do
    if [[ -e $f || -L $f ]]; then
      __orenv_why=change
      __orenv_reload
      return 0
    fi
  done
  return 0
}


typeset -ga precmd_functions chpwd_functions
# chpwd runs inside `cd`, so `cd dir && cmd` already sees the new environment.
(( ${chpwd_functions[(Ie)__orenv_precmd]} )) || chpwd_functions+=(__orenv_precmd)
(( ${precmd_functions[(Ie)__orenv_precmd]} )) || precmd_functions=(__orenv_precmd "${precmd_functions[@]}")
