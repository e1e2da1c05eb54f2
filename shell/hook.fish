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
# The daemon lives in the runtime directory (__orenv_rtdir). fish cannot talk
# to a Unix socket itself: on a cd or change it runs one small stdlib-only
# client (`python -I -S`, the file installed with orenv, never a copy in a
# shared place) with the interpreter of the orenv program. The client checks
# the socket and the daemon's uid again. ORENV_NO_DAEMON=1 keeps to
# `orenv export`.
# bash reaches the daemon through FIFOs with builtins (no process per cd); fish
# cannot do it safely: its `read` has no timeout, so a stopped or hung daemon
# would hang the prompt for good, and fish has no builtin that could end the
# wait (no alarm, no select). The client's deadline is what keeps a cd within
# its second here.
set -g __orenv_client @ORENV_CLIENT@
# Your uid, filled in by `orenv hook fish` (fish has no builtin for it; `id -u`
# would be a process at every shell start).
set -g __orenv_uid @ORENV_UID@
set -g __orenv_rt ''
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
set -q __orenv_absent; or set -g __orenv_absent

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
    # REF FILE... - ABSENT...: reload when a FILE is newer than REF or gone, or
    # an ABSENT path appears (paths are absolute: the lone - cannot be one).
    set -g __orenv_ref $argv[1]
    set -l rest $argv[2..-1]
    set -l i (contains -i -- - $rest)
    if test -z "$i"
        set -g __orenv_watchlist $rest
        set -g __orenv_absent
    else
        set -g __orenv_watchlist $rest[1..(math $i - 1)]
        set -g __orenv_absent $rest[(math $i + 1)..-1]
        test $i -eq 1; and set -g __orenv_watchlist
        test $i -eq (count $rest); and set -g __orenv_absent
    end
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
    # The paths are kept for the idle prompt's check (__orenv_found). A path
    # may hold any byte but NUL and "/", newlines included: `path dirname -Z`
    # with `string split0` keeps each one whole (a plain command substitution
    # would split it at the newline).
    set -g __orenv_cands
    set -l d $PWD
    while test "$d" != /
        set -g -a __orenv_cands "$d/.orenv.toml"
        set d (path dirname -Z -- $d | string split0)
        test -n "$d"; or break
    end
    set -g -a __orenv_cands /.orenv.toml
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

function __orenv_rtdir
    # The runtime directory orenv.paths.runtime_dir picks, in __orenv_rt: the
    # first candidate that is a real directory of ours in a parent that is ours
    # or sticky; one another user made first (a shared /tmp) is passed over; a
    # missing one that can be made ends the search (`orenv export` makes it).
    # fish cannot read a mode with builtins: the client checks that too.
    set -l cands
    string match -q '/*' -- "$XDG_RUNTIME_DIR"; and set -a cands $XDG_RUNTIME_DIR/orenv
    if string match -q '/*' -- "$TMPDIR"
        set -a cands $TMPDIR/orenv-$__orenv_uid
    else
        set -a cands /tmp/orenv-$__orenv_uid
    end
    if string match -q '/*' -- "$XDG_STATE_HOME"
        set -a cands $XDG_STATE_HOME/orenv/run
    else
        set -a cands $HOME/.local/state/orenv/run
    end
    for c in $cands
        set -l p (string replace -r '/[^/]*$' '' -- $c)
        test -n "$p"; or set p /
        if not test -e $c; and not test -L $c
            if test "$c" = "$cands[-1]"
                return 1
            end
            if test -d $p; and test -w $p; and begin; test -O $p; or test -k $p; end
                return 1
            end
            continue
        end
        if test -d $p; and begin; test -O $p; or test -k $p; end
            and test -d $c; and not test -L $c; and test -O $c
            set -g __orenv_rt $c
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
    # The key and the values orenv saved (your own ANTHROPIC_API_KEY) pass
    # through here: never traced. fish already hides event handlers from
    # fish_trace, but not with fish_trace=all (fish 4) or when called
    # directly; an empty local fish_trace turns tracing off for this call and
    # everything it calls, and yours is back when it returns.
    set -l fish_trace
    set -l had (count $__orenv_names)
    set -g __orenv_gotmsg 0
    __orenv_restore
    set -g __orenv_none 0
    set -l out
    if not __orenv_find
        # No policy: the answer is "nothing", which the restore above applied.
        set -g __orenv_none 1
        set -g __orenv_watchlist
        set -g __orenv_absent
    else if test -z "$ORENV_NO_DAEMON"; and test -r $__orenv_client; and __orenv_rtdir
        and test -S $__orenv_rt/daemon.sock; and not test -L $__orenv_rt/daemon.sock
        and test -O $__orenv_rt/daemon.sock
        set out ($__orenv_py -I -S $__orenv_client fish $fish_pid $__orenv_why $__orenv_rt/daemon.sock $PWD 2>/dev/null | string collect)
    end
    if test $__orenv_none = 0; and test -z "$out"
        # What is left of the prompt's 1 s after a failed daemon attempt. Its
        # messages come as code on stdout; stderr could only hold a Python
        # traceback (a Ctrl-C while it starts): never shown, one line instead.
        set out ($__orenv_bin export fish --session $fish_pid --deadline 0.4 2>/dev/null | string collect)
        if test -z "$out"
            printf '%s\n' "orenv: could not compute this directory's environment; run `orenv export fish` to see why" >&2
        end
        __orenv_spawn
    end
    test -n "$out"; and printf '%s\n' $out | source
    set -g __orenv_why change
    # Only now: a Ctrl-C above leaves the old directory recorded, so the next
    # prompt tries again.
    set -g __orenv_pwd $PWD
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
    for f in $__orenv_absent
        if test -e $f; or test -L $f
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

