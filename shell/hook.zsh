# orenv hook for zsh. Install with:  eval "$(orenv hook zsh)"
#
# An idle prompt runs no process: it compares $PWD with the last directory
# and tests the watched files' times against a per-session reference file
# with the [[ -nt ]] builtin. Only on a change does it run `orenv export zsh`.
#
# Values orenv replaced are kept in the non-exported arrays below, never in
# the environment, and are put back exactly when the policy no longer applies.

typeset -g __orenv_bin=@ORENV_BIN@
typeset -g __orenv_pwd='' __orenv_ref='' __orenv_lastmsg='' __orenv_gotmsg=0
typeset -ga __orenv_names __orenv_watchlist
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
  __orenv_ref=$1
  shift
  __orenv_watchlist=("$@")
}

__orenv_msg() {
  # Say each message once per change, not at every cd inside a project.
  __orenv_gotmsg=1
  [[ $1 == "$__orenv_lastmsg" ]] && return 0
  __orenv_lastmsg=$1
  print -r -- "$1" >&2
}

__orenv_reload() {
  local out had=${#__orenv_names}
  setopt localtraps
  trap '' INT
  __orenv_pwd=$PWD
  __orenv_gotmsg=0
  __orenv_restore
  out=$("$__orenv_bin" export zsh --session "$$")
  eval "$out"
  if (( ! __orenv_gotmsg )); then
    (( had && ! ${#__orenv_names} )) && print -r -- "orenv: unloaded" >&2
    __orenv_lastmsg=''
  fi
}

__orenv_precmd() {
  emulate -L zsh
  if [[ $PWD != "$__orenv_pwd" ]]; then
    __orenv_reload
    return 0
  fi
  local f
  for f in "${__orenv_watchlist[@]}"; do
    if [[ ! -e $f || $f -nt $__orenv_ref ]]; then
      __orenv_reload
      return 0
    fi
  done
  return 0
}

__orenv_reset() {
  # Run after `orenv` itself changed something, so the next prompt re-checks.
  __orenv_pwd=''
}

typeset -ga precmd_functions chpwd_functions
# chpwd runs inside `cd`, so `cd dir && cmd` already sees the new environment.
(( ${chpwd_functions[(Ie)__orenv_precmd]} )) || chpwd_functions+=(__orenv_precmd)
(( ${precmd_functions[(Ie)__orenv_precmd]} )) || precmd_functions=(__orenv_precmd "${precmd_functions[@]}")
