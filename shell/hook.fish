# orenv hook for fish. Install with:  orenv hook fish | source
#
# An idle prompt runs no process: it compares $PWD with the last directory
# and tests the watched files' times against a per-session reference file
# with the `test -nt` builtin. Only on a change does it ask the daemon (one small
# client), or `orenv export fish` when the daemon cannot answer. With no
# .orenv.toml at or above $PWD there is nothing to ask: the hook looks for one
# itself, with builtins, on cd and at each prompt (one created above is picked
# up at the next prompt).
#
# Values orenv replaced are kept in non-exported global variables, never in
# the environment, and are put back exactly when the policy no longer applies.
# The PWD handler runs inside `cd`, so `cd dir; and cmd` sees the new
# environment before `cmd`.

set -g __orenv_bin @ORENV_BIN@
set -g __orenv_pwd ''
# The daemon (same path rules as orenv.paths.runtime_dir). fish cannot talk to
# a Unix socket itself: on a cd or change it runs one small stdlib-only client
# (`python -I -S`, copied into the runtime dir by the daemon) with the
# interpreter of the orenv program. ORENV_NO_DAEMON=1 keeps to `orenv export`.
if string match -q '/*' -- "$XDG_RUNTIME_DIR"
    set -g __orenv_rt $XDG_RUNTIME_DIR/orenv
else if set -q TMPDIR
    set -g __orenv_rt $TMPDIR/orenv-(id -u)
else
    set -g __orenv_rt /tmp/orenv-(id -u)
end
set -g __orenv_py python3
if test -r $__orenv_bin
    read -l first <$__orenv_bin
    set first (string replace -r '^#!' '' -- "$first")
    if string match -qr '^/\S*python\S*$' -- "$first"; and test -x "$first"
        set -g __orenv_py $first
    end
end
set -g __orenv_why cd
set -g __orenv_dtry 0
set -g __orenv_ref ''
set -g __orenv_none 0
set -g __orenv_cands
set -g __orenv_lastmsg ''
set -g __orenv_gotmsg 0
set -q __orenv_names; or set -g __orenv_names
set -q __orenv_watchlist; or set -g __orenv_watchlist

# A shell started inside an active project inherits the exported values but
# not the saved originals (those are never exported). Adopt what the parent
# applied, so that leaving the project unsets it.
if set -q ORENV_VARS; and test -z "$__orenv_names"
    set -g __orenv_names (string split ' ' -- $ORENV_VARS)
end

function __orenv_remember
    contains -- $argv[1] $__orenv_names; and return 0
    set -l name $argv[1]
    set -g -a __orenv_names $name
    if set -q $name
        set -g __orenv_saved_$name $$name
        set -qx $name; or set -g __orenv_local_$name 1
    end
    return 0
end

function __orenv_set
    __orenv_remember $argv[1]
    set -gx $argv[1] $argv[2]
end

function __orenv_unset
    __orenv_remember $argv[1]
    set -e $argv[1]
end

function __orenv_restore
    for n in $__orenv_names
        if set -q __orenv_saved_$n
            set -l saved __orenv_saved_$n
            if set -q __orenv_local_$n
                set -e $n
                set -g $n $$saved
            else
                set -gx $n $$saved
            end
            set -e __orenv_saved_$n
            set -e __orenv_local_$n
        else
            set -e $n
        end
    end
    set -g __orenv_names
end

function __orenv_watching
    set -g __orenv_ref $argv[1]
    set -g __orenv_watchlist $argv[2..-1]
end

function __orenv_msg
    # Say each message once per change, not at every cd inside a project.
    set -g __orenv_gotmsg 1
    test "$argv[1]" = "$__orenv_lastmsg"; and return 0
    set -g __orenv_lastmsg $argv[1]
    printf '%s\n' $argv[1] >&2
end

function __orenv_find
    # Is there a .orenv.toml at or above $PWD? (What orenv's find_nearest looks
    # for: anything by that name, even a dangling link; the daemon judges it.)
    # The paths are kept for the idle prompt's check (__orenv_found).
    set -l d (string replace -r '/$' '' -- $PWD)
    set -g __orenv_cands
    while true
        set -g -a __orenv_cands "$d/.orenv.toml"
        test -n "$d"; or break
        set d (string replace -r '/[^/]*$' '' -- $d)
    end
    __orenv_found
end

function __orenv_found
    for f in $__orenv_cands
        if test -e $f; or test -L $f
            return 0
        end
    end
    return 1
end

function __orenv_spawn
    # Start the daemon in the background (at most every 5 s); never waits.
    test -n "$ORENV_NO_DAEMON"; and return 0
    set -l now (date +%s)
    test (math $now - $__orenv_dtry) -ge 5; or return 0
    set -g __orenv_dtry $now
    $__orenv_bin daemon start --quiet --wait 0 </dev/null >/dev/null 2>&1 &
    disown 2>/dev/null
end

function __orenv_reload
    set -l had (count $__orenv_names)
    set -g __orenv_pwd $PWD
    set -g __orenv_gotmsg 0
    __orenv_restore
    set -g __orenv_none 0
    set -l out
    if not __orenv_find
        # No policy: the answer is "nothing", which the restore above applied.
        set -g __orenv_none 1
        set -g __orenv_watchlist
    else if test -z "$ORENV_NO_DAEMON"; and test -S $__orenv_rt/daemon.sock; and test -r $__orenv_rt/client.py
        set out ($__orenv_py -I -S $__orenv_rt/client.py fish $fish_pid $__orenv_why $__orenv_rt/daemon.sock $PWD | string collect)
    end
    if test $__orenv_none = 0; and test -z "$out"
        # What is left of the prompt's 1 s after a failed daemon attempt.
        set out ($__orenv_bin export fish --session $fish_pid --deadline 0.4 | string collect)
        __orenv_spawn
    end
    test -n "$out"; and printf '%s\n' $out | source
    set -g __orenv_why change
    if test $__orenv_gotmsg = 0
        if test $had -gt 0; and test (count $__orenv_names) -eq 0
            printf '%s\n' "orenv: unloaded" >&2
        end
        set -g __orenv_lastmsg ''
    end
end

function __orenv_check
    if test "$PWD" != "$__orenv_pwd"
        set -g __orenv_why cd
        __orenv_reload
        return 0
    end
    if test $__orenv_none = 1
        if __orenv_found
            set -g __orenv_why change
            __orenv_reload
        end
        return 0
    end
    for f in $__orenv_watchlist
        if not test -e $f; or test $f -nt $__orenv_ref
            set -g __orenv_why change
            __orenv_reload
            return 0
        end
    end
    return 0
end

function __orenv_on_prompt --on-event fish_prompt
    __orenv_check
end

function __orenv_on_pwd --on-variable PWD
    # Runs inside `cd`; skip command substitutions and non-interactive uses.
    status --is-command-substitution; and return 0
    __orenv_check
end

