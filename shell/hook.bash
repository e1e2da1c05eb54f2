# orenv hook for bash. Install with:  eval "$(orenv hook bash)"
# shellcheck shell=bash
#
# An idle prompt runs no process: it compares $PWD with the last directory
# and tests the watched files' times against a per-session reference file
# with the [[ -nt ]] builtin. On a change it asks the daemon: through this
# shell's FIFO channel with builtins (no process), the first time through one
# small client, or `orenv export bash` when the daemon cannot answer. With no
# .orenv.toml at or above $PWD there is nothing to ask: the hook looks for one
# itself, with builtins, on cd and at each prompt (one created above is picked
# up at the next prompt).
#
# Values orenv replaced are kept in the non-exported arrays below (bash never
# exports arrays), and are put back exactly when the policy no longer applies.
# `cd`, `pushd` and `popd` are wrapped (unless you already define them as
# functions), so `cd dir && cmd` sees the new environment before `cmd`.

__orenv_bin=@ORENV_BIN@
__orenv_pwd=''
# The daemon lives in the runtime directory (__orenv_rtdir). bash cannot talk
# to a Unix socket itself: when it has no FIFO channel yet it runs one small
# stdlib-only client (`python -I -S`, the file installed with orenv, never a
# copy in a shared place) with the interpreter of the orenv program. The
# client checks the directory's mode, the socket and the daemon's uid, which
# bash cannot; its answer may name a channel for later requests (__orenv_ask).
# ORENV_NO_DAEMON=1 keeps to `orenv export`.
__orenv_client=@ORENV_CLIENT@
__orenv_rt=''
# This shell's FIFO channel (request, answer), named by the daemon in an
# answer that came through the client, which checked the runtime directory
# and the daemon (see __orenv_ask). Empty: none yet, or dropped.
__orenv_creq=''
__orenv_cans=''
__orenv_cbusy=0
__orenv_py=python3
if [[ -r $__orenv_bin ]]; then
  IFS= read -r __orenv_py <"$__orenv_bin" || true
  __orenv_py=${__orenv_py#\#!}
  [[ $__orenv_py == /*python* && $__orenv_py != *' '* && -x $__orenv_py ]] || __orenv_py=python3
fi
__orenv_why='cd'
__orenv_out=''
__orenv_dtry=-10
__orenv_ref=''
__orenv_none=0
__orenv_lastmsg=''
__orenv_gotmsg=0
declare -p __orenv_names >/dev/null 2>&1 || declare -ga __orenv_names=()
declare -p __orenv_watchlist >/dev/null 2>&1 || declare -ga __orenv_watchlist=()
declare -p __orenv_absent >/dev/null 2>&1 || declare -ga __orenv_absent=()
declare -ga __orenv_cands=()
declare -gA __orenv_saved __orenv_local __orenv_known

# A shell started inside an active project inherits the exported values but
# not the saved originals (those are never exported). Adopt what the parent
# applied, so that leaving the project unsets it.
if [[ -n ${ORENV_VARS-} && ${#__orenv_names[@]} -eq 0 ]]; then
  read -r -a __orenv_names <<<"$ORENV_VARS"
fi
# The same names as a set: remembering a name costs no loop.
for __orenv_i in "${__orenv_names[@]}"; do
  __orenv_known[$__orenv_i]=1
done
unset __orenv_i

__orenv_remember() {
  [[ -z ${__orenv_known[$1]+x} ]] || return 0
  __orenv_known[$1]=1
  __orenv_names+=("$1")
  if [[ -n ${!1+x} ]]; then
    __orenv_saved[$1]=${!1}
    [[ ${!1@a} == *x* ]] || __orenv_local[$1]=1
  fi
  return 0
}

__orenv_set() {
  # __orenv_remember, inline: a function call is most of what a set costs.
  if [[ -z ${__orenv_known[$1]+x} ]]; then
    __orenv_known[$1]=1
    __orenv_names+=("$1")
    if [[ -n ${!1+x} ]]; then
      __orenv_saved[$1]=${!1}
      [[ ${!1@a} == *x* ]] || __orenv_local[$1]=1
    fi
  fi
  printf -v "$1" '%s' "$2"
  export "${1?}"
}

__orenv_unset() {
  __orenv_remember "$1"
  unset "$1"
}

__orenv_restore() {
  local __orenv_n
  for __orenv_n in "${__orenv_names[@]}"; do
    if [[ -n ${__orenv_saved[$__orenv_n]+x} ]]; then
      printf -v "$__orenv_n" '%s' "${__orenv_saved[$__orenv_n]}"
      if [[ -n ${__orenv_local[$__orenv_n]+x} ]]; then
        export -n "${__orenv_n?}"
      else
        export "${__orenv_n?}"
      fi
    else
      unset "$__orenv_n"
    fi
  done
  __orenv_names=()
  __orenv_known=()
  __orenv_saved=()
  __orenv_local=()
}

__orenv_watching() {
  # REF FILE... - ABSENT...: reload when a FILE is newer than REF or gone, or
  # an ABSENT path appears (paths are absolute: the lone - cannot be one).
  __orenv_ref=$1
  shift
  __orenv_watchlist=()
  __orenv_absent=()
  while (( $# )) && [[ $1 != - ]]; do
    __orenv_watchlist+=("$1")
    shift
  done
  (( $# )) && shift
  __orenv_absent=("$@")
}

__orenv_msg() {
  # Say each message once per change, not at every cd inside a project.
  __orenv_gotmsg=1
  [[ $1 == "$__orenv_lastmsg" ]] && return 0
  __orenv_lastmsg=$1
  printf '%s\n' "$1" >&2
}

__orenv_find() {
  # Is there a .orenv.toml at or above $PWD? (What orenv's find_nearest looks
  # for: anything by that name, even a dangling link; the daemon judges it.)
  # The paths are kept for the idle prompt's check (__orenv_found).
  local __orenv_d=${PWD%/}
  __orenv_cands=()
  while :; do
    __orenv_cands+=("$__orenv_d/.orenv.toml")
    [[ -n $__orenv_d ]] || break
    __orenv_d=${__orenv_d%/*}
  done
  __orenv_found
}

__orenv_found() {
  local __orenv_f
  for __orenv_f in "${__orenv_cands[@]}"; do
    [[ -e $__orenv_f || -L $__orenv_f ]] && return 0
  done
  return 1
}

__orenv_rtdir() {
  # The runtime directory orenv.paths.runtime_dir picks, in __orenv_rt: the
  # first candidate that is a real directory of ours in a parent that is ours
  # or sticky; one another user made first (a shared /tmp) is passed over; a
  # missing one that can be made ends the search (`orenv export` makes it).
  # bash cannot read a mode with builtins: the client checks that too.
  local __orenv_c __orenv_p
  local -a __orenv_cs=()
  [[ ${XDG_RUNTIME_DIR-} == /* ]] && __orenv_cs+=("$XDG_RUNTIME_DIR/orenv")
  if [[ ${TMPDIR-} == /* ]]; then
    __orenv_cs+=("$TMPDIR/orenv-$UID")
  else
    __orenv_cs+=("/tmp/orenv-$UID")
  fi
  if [[ ${XDG_STATE_HOME-} == /* ]]; then
    __orenv_cs+=("$XDG_STATE_HOME/orenv/run")
  else
    __orenv_cs+=("$HOME/.local/state/orenv/run")
  fi
  for __orenv_c in "${__orenv_cs[@]}"; do
    __orenv_p=${__orenv_c%/*}
    [[ -n $__orenv_p ]] || __orenv_p=/
    if [[ ! -e $__orenv_c && ! -L $__orenv_c ]]; then
      if [[ $__orenv_c == "${__orenv_cs[${#__orenv_cs[@]}-1]}" ]] ||
        [[ -d $__orenv_p && -w $__orenv_p && ( -O $__orenv_p || -k $__orenv_p ) ]]; then
        return 1
      fi
      continue
    fi
    if [[ -d $__orenv_p && ( -O $__orenv_p || -k $__orenv_p ) &&
      -d $__orenv_c && ! -L $__orenv_c && -O $__orenv_c ]]; then
      __orenv_rt=$__orenv_c
      return 0
    fi
  done
  return 1
}

__orenv_chan() {
  # From the daemon's answer through the client: the channel for later requests.
  __orenv_creq=$1
  __orenv_cans=$2
  __orenv_cbusy=0
}

__orenv_ask() {
  # Ask the daemon through this shell's FIFOs, with builtins only; the code goes
  # to __orenv_out. 1: no channel to use; 2: it failed (dropped: the next
  # request goes through the client, which makes a new one). Both FIFOs are
  # opened for this request only (nothing the shell runs inherits them); an
  # answer counts only whole and with this request's nonce; a request cut off
  # (Ctrl-C) leaves __orenv_cbusy set, and the channel is dropped then too.
  [[ -n $__orenv_creq ]] || return 1
  if (( __orenv_cbusy || BASHPID != $$ )) ||
    [[ ! -p $__orenv_creq || ! -O $__orenv_creq || -L $__orenv_creq ||
       ! -p $__orenv_cans || ! -O $__orenv_cans || -L $__orenv_cans ]]; then
    __orenv_creq=''
    return 1
  fi
  # LC_ALL=C: read -N counts bytes, as the daemon does.
  local LC_ALL=C __orenv_v __orenv_n=${SRANDOM-}$RANDOM$RANDOM __orenv_h='' __orenv_g='' \
    __orenv_st='' __orenv_len=''
  local -a __orenv_e=()
  for __orenv_v in CLAUDE_CODE_EXTRA_BODY ANTHROPIC_CUSTOM_HEADERS CLAUDE_CONFIG_DIR HOME \
    CLAUDE_CODE_USE_COWORK_PLUGINS ORENV_QUIET; do
    # What the client would see: exported variables only.
    [[ -n ${!__orenv_v+x} && ${!__orenv_v@a} == *x* ]] && __orenv_e+=("$__orenv_v=${!__orenv_v}")
  done
  # A request the daemon would refuse (and one too big for the FIFO's buffer,
  # where printf could block) goes through the client.
  __orenv_v=${#PWD}
  for __orenv_h in "${__orenv_e[@]}"; do
    (( __orenv_v += ${#__orenv_h} + 1 ))
  done
  (( __orenv_v < 16384 )) || return 1
  __orenv_h=''
  __orenv_cbusy=1
  __orenv_out=''
  if printf '%s\0' o1 "$__orenv_n" "$__orenv_why" "$PWD" "${__orenv_e[@]}" '' \
      1<>"$__orenv_creq" 2>/dev/null && {
      # The wait, with its timeout, is for the first byte. Status "ok": the
      # daemon wrote the whole frame at once (at most PIPE_BUF bytes), so the rest
      # is there and is read without a timeout, which would cost a select per
      # byte; "big": a larger frame, read with one.
      IFS= read -r -t 0.45 -N 1 __orenv_h && [[ $__orenv_h == '#' ]] &&
      IFS=' ' read -r __orenv_h __orenv_g __orenv_st __orenv_len &&
      [[ $__orenv_h == orenv && $__orenv_g == "$__orenv_n" && ( $__orenv_st == ok ||
         $__orenv_st == big ) && $__orenv_len == [1-9]* && $__orenv_len != *[!0-9]* &&
         ${#__orenv_len} -lt 8 ]] &&
      if [[ $__orenv_st == ok ]]; then
        IFS= read -r -N "$__orenv_len" __orenv_out
      else
        IFS= read -r -N "$__orenv_len" -t 0.45 __orenv_out
      fi &&
      (( ${#__orenv_out} == __orenv_len ))
    } 0<>"$__orenv_cans" 2>/dev/null; then
    __orenv_cbusy=0
    return 0
  fi
  __orenv_out=''
  __orenv_creq=''
  return 2
}

__orenv_spawn() {
  # Start the daemon in the background (at most every 5 s); never waits.
  [[ -z ${ORENV_NO_DAEMON-} ]] || return 0
  (( SECONDS - __orenv_dtry >= 5 )) || return 0
  __orenv_dtry=$SECONDS
  ( "$__orenv_bin" daemon start --quiet --wait 0 </dev/null >/dev/null 2>&1 & )
}

__orenv_reload() {
  # The key and the values orenv saved (your own ANTHROPIC_API_KEY) pass
  # through __orenv_load: no `set -x` trace, no `set -v` echo of the code it
  # evaluates, and no DEBUG/RETURN/ERR trap of yours (set -T/-E, extdebug)
  # sees them in $BASH_COMMAND. Such a trap stays on in the function that
  # turns functrace off, so the work is one call further down. `local -`
  # gives your options back exactly when this returns, however it returns.
  local -
  set +xvET
  __orenv_load
}

__orenv_load() {
  local __orenv_out __orenv_had=${#__orenv_names[@]} __orenv_asked=1
  # A channel for this shell's process only, not for a subshell's cd.
  local -a __orenv_fifo=()
  (( BASHPID != $$ )) || __orenv_fifo=(fifo)
  __orenv_gotmsg=0
  __orenv_restore
  __orenv_none=0
  if ! __orenv_find; then
    # No policy: the answer is "nothing", which the restore above applied.
    __orenv_none=1
    __orenv_watchlist=()
    __orenv_absent=()
  elif [[ -z ${ORENV_NO_DAEMON-} ]] && { __orenv_ask; __orenv_asked=$?; (( ! __orenv_asked )); }
  then
    eval "$__orenv_out"
  elif (( __orenv_asked != 2 )) && [[ -z ${ORENV_NO_DAEMON-} && -r $__orenv_client ]] &&
    __orenv_rtdir &&
    [[ -S $__orenv_rt/daemon.sock && ! -L $__orenv_rt/daemon.sock && -O $__orenv_rt/daemon.sock ]] &&
    __orenv_out=$(trap '' INT QUIT; exec "$__orenv_py" -I -S "$__orenv_client" bash "$$" \
      "$__orenv_why" "$__orenv_rt/daemon.sock" "$PWD" "${__orenv_fifo[@]}") &&
    [[ -n $__orenv_out ]]; then
    # (A channel that failed has had its time: straight to `orenv export`.)
    eval "$__orenv_out"
  else
    # What is left of the prompt's 1 s after a failed daemon attempt.
    # Both ignore Ctrl-C and Ctrl-\: the cd completes within its second, never
    # half done, and no core dump holds the answer.
    __orenv_out=$(trap '' INT QUIT; exec "$__orenv_bin" export bash --session "$$" --deadline 0.4)
    eval "$__orenv_out"
    __orenv_spawn
  fi
  __orenv_out=''  # it held the key
  __orenv_why=change
  # Only now: a Ctrl-C above leaves the old directory recorded, so the next
  # prompt tries again (the user's own INT trap is never touched).
  __orenv_pwd=$PWD
  if (( ! __orenv_gotmsg )); then
    if (( __orenv_had && ! ${#__orenv_names[@]} )); then
      printf '%s\n' "orenv: unloaded" >&2
    fi
    __orenv_lastmsg=''
  fi
  return 0
}

__orenv_hook() {
  local __orenv_status=$? __orenv_f
  # None of this in your trace or traps either (see __orenv_reload); only when
  # one is on, which keeps an idle prompt as cheap as it was.
  [[ $- != *[xvET]* ]] || { local -; set +xvET; }
  if [[ $PWD != "$__orenv_pwd" ]]; then
    __orenv_why='cd'
    __orenv_reload
  elif (( __orenv_none )); then
    if __orenv_found; then
      __orenv_why=change
      __orenv_reload
    fi
  else
    for __orenv_f in "${__orenv_watchlist[@]}"; do
      if [[ ! -e $__orenv_f || $__orenv_f -nt $__orenv_ref ]]; then
        __orenv_why=change
        __orenv_reload
        return "$__orenv_status"
      fi
    done
    for __orenv_f in "${__orenv_absent[@]}"; do
      if [[ -e $__orenv_f || -L $__orenv_f ]]; then
        __orenv_why=change
        __orenv_reload
        return "$__orenv_status"
      fi
    done
  fi
  return "$__orenv_status"
}


if ! declare -F cd >/dev/null; then
  cd() { builtin cd "$@" || return; __orenv_hook; }
fi
if ! declare -F pushd >/dev/null; then
  pushd() { builtin pushd "$@" || return; __orenv_hook; }
fi
if ! declare -F popd >/dev/null; then
  popd() { builtin popd "$@" || return; __orenv_hook; }
fi

# Is PROMPT_COMMAND an array? With builtins (`$(declare -p …)` would fork at
# every shell start); `local -` keeps a `set -u` of yours out of the test.
__orenv_pc_array() { local -; set +u; [[ ${PROMPT_COMMAND@a} == *a* ]]; }
if [[ ";${PROMPT_COMMAND[*]:-};" != *";__orenv_hook;"* ]]; then
  if __orenv_pc_array; then
    PROMPT_COMMAND=(__orenv_hook "${PROMPT_COMMAND[@]}")
  else
    # A plain string here (the array case is handled above).
    # shellcheck disable=SC2178,SC2128
    PROMPT_COMMAND="__orenv_hook${PROMPT_COMMAND:+;$PROMPT_COMMAND}"
  fi
fi
unset -f __orenv_pc_array
