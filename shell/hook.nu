# orenv hook for nushell. nushell cannot evaluate code at run time: save the
# hook where nushell loads it (an autoload file, read after config.nu), e.g.
# in ~/.config/nushell/config.nu:
#
#   mkdir ($nu.user-autoload-dirs | first)
#   orenv hook nu | save -f ($nu.user-autoload-dirs | first | path join orenv.nu)
#
# (or save it anywhere and `source` it from config.nu).
#
# An idle prompt runs no process: a pre_prompt hook compares $env.PWD with the
# last directory and compares the watched files' times with a per-session
# reference file, with builtins (`path exists`, `ls`). Only on a change does
# it ask the daemon (one small client), or `orenv export nu` when the daemon
# cannot answer. With no .orenv.toml at or above $env.PWD there is nothing to
# ask: the hook looks for one itself, with builtins.
#
# Answers are data, never code: one JSON array a line (["set", NAME, VALUE],
# ["unset", NAME], ["watch", …], ["msg", TEXT]), parsed with `from json` and
# applied with `load-env` / `hide-env`. Values orenv replaced are kept in
# $env.__orenv, a record: nushell passes only strings to other programs, so
# they never reach a child, and they are put back exactly (or hidden again)
# when the policy no longer applies.
#
# Not covered: `cd dir; cmd` on one line runs `cmd` with the old environment
# (nushell runs hooks only between command lines); the next line sees the
# new one.

# The orenv program, the daemon client installed with it (never a copy in a
# shared place) and the user's name (`ls -l` names owners).
def __orenv_conf [] {
    {bin: @ORENV_BIN@, client: @ORENV_CLIENT@, user: @ORENV_USER@, uid: @ORENV_UID@}
}

# The interpreter of the orenv program runs the client (`python -I -S`):
# read once, from its first line.
def __orenv_python [] {
    let bin = (__orenv_conf).bin
    let first = (try { open --raw $bin | lines | first } catch { "" })
    let py = ($first | str replace -r '^#!' '')
    if ($py =~ '^/\S*python\S*$') and ($py | path exists) { $py } else { "python3" }
}

def --env __orenv_init [] {
    # A shell started inside an active project inherits the exported values
    # but not the saved originals (a record is never passed on). Adopt what
    # the parent applied, so that leaving the project unsets it.
    let names = if "__orenv" in $env {
        $env.__orenv.names
    } else if ($env.ORENV_VARS? | default "" | str trim) != "" {
        $env.ORENV_VARS | split row " " | where $it != ""
    } else {
        []
    }
    let saved = if "__orenv" in $env { $env.__orenv.saved } else { {} }
    $env.__orenv = {
        pwd: "", why: "cd", dtry: null, ref: "", none: false, cands: [],
        lastmsg: "", gotmsg: false, names: $names, saved: $saved,
        watch: ($env.__orenv?.watch? | default []), absent: ($env.__orenv?.absent? | default []),
        py: (__orenv_python),
    }
}

# nushell (0.115) brings back a variable hidden with `hide-env` after a
# `def --env` command that changed the environment ran earlier in the same
# command (or one calling it). So what changes the environment is written out
# inline below, and __orenv_check -> __orenv_reload -> __orenv_apply is the
# only chain of such commands: the restore (in __orenv_reload) and the answer
# (in __orenv_apply) each hide with nothing of that kind before them.

# Save NAME's value before orenv first changes it: the new state record.
def __orenv_remembered [s: record, name: string] {
    if $name in $s.names { return $s }
    let saved = if $name in $env { $s.saved | upsert $name ($env | get $name) } else { $s.saved }
    $s | merge {names: ($s.names | append $name), saved: $saved}
}

# Apply an answer: one JSON array a line, data only.
def --env __orenv_apply [answer: string] {
    for line in ($answer | lines) {
        if $line == "" { continue }
        let op = (try { $line | from json } catch { null })
        if ($op | describe) !~ '^list' or ($op | is-empty) { continue }
        match ($op | first) {
            "set" => {
                $env.__orenv = (__orenv_remembered $env.__orenv ($op | get 1))
                load-env {($op | get 1): ($op | get 2)}
            }
            "unset" => {
                $env.__orenv = (__orenv_remembered $env.__orenv ($op | get 1))
                hide-env -i ($op | get 1)
            }
            "watch" => {
                $env.__orenv.ref = ($op | get 1)
                $env.__orenv.watch = ($op | get 2)
                $env.__orenv.absent = ($op | get 3)
            }
            "msg" => {
                # Say each message once per change, not at every cd inside a project.
                $env.__orenv.gotmsg = true
                if ($op | get 1) != $env.__orenv.lastmsg {
                    $env.__orenv.lastmsg = ($op | get 1)
                    print -e ($op | get 1)
                }
            }
            "notice" => { print -e ($op | get 1) }
        }
    }
}

# The places of a .orenv.toml at or above DIR. (What orenv's find_nearest
# looks for: anything by that name, even a dangling link; the daemon judges
# it.) Kept for the idle prompt's check.
def __orenv_cands [dir: string] {
    mut cands = []
    mut d = $dir
    loop {
        $cands = ($cands | append ($d | path join ".orenv.toml"))
        let up = ($d | path dirname)
        if $up == $d or $up == "" { break }
        $d = $up
    }
    $cands
}

# Is there a .orenv.toml at or above $env.PWD?
def __orenv_find [] {
    __orenv_found (__orenv_cands $env.PWD)
}

def __orenv_found [cands: list] {
    $cands | any {|f| $f | path exists -n }
}

# The modification time of FILE (through links), or null.
def __orenv_mtime [file: string] {
    try { ls -D ($file | path expand) | get 0.modified } catch { null }
}

# lstat of PATH as nushell's `ls -l` gives it, or null.
def __orenv_lstat [p: string] {
    try { ls -lD $p | first } catch { null }
}

def __orenv_mine [st] {
    $st != null and $st.user == (__orenv_conf).user
}

def __orenv_dir_ok [st] {
    # A real directory (not a link) of ours.
    $st != null and $st.type == "dir" and (__orenv_mine $st)
}

def __orenv_parent_ok [st] {
    # A parent that is ours or sticky: nobody else can swap what is in it.
    $st != null and $st.type == "dir" and ((__orenv_mine $st) or ($st.mode | str ends-with "t"))
}

# The runtime directory orenv.paths.runtime_dir picks: the first candidate
# that is a real directory of ours, with no group/other permissions, in a
# parent that is ours or sticky; one another user made first (a shared /tmp)
# is passed over; a missing one that can be made ends the search (`orenv
# export` makes it). The client checks all of this again, and the daemon's uid.
def __orenv_rtdir [] {
    let conf = (__orenv_conf)
    mut cands = []
    let xr = ($env.XDG_RUNTIME_DIR? | default "")
    if ($xr | str starts-with "/") { $cands = ($cands | append ($xr | path join "orenv")) }
    let tmp = ($env.TMPDIR? | default "")
    let tmp = if ($tmp | str starts-with "/") { $tmp } else { "/tmp" }
    $cands = ($cands | append ($tmp | path join $"orenv-($conf.uid)"))
    let xs = ($env.XDG_STATE_HOME? | default "")
    let xs = if ($xs | str starts-with "/") { $xs } else { $env.HOME? | default "/" | path join ".local" "state" }
    $cands = ($cands | append ($xs | path join "orenv" "run"))
    let last = ($cands | last)
    for c in $cands {
        let p = ($c | path dirname)
        let pst = (__orenv_lstat $p)
        if not ($c | path exists -n) {
            if $c == $last { return null }
            # A missing one orenv can make ends the search.
            if ($pst != null and $pst.type == "dir" and not $pst.readonly
                and ((__orenv_mine $pst) or ($pst.mode | str ends-with "t"))) {
                return null
            }
            continue
        }
        let st = (__orenv_lstat $c)
        if ((__orenv_parent_ok $pst) and (__orenv_dir_ok $st)
            and ($st.mode | str substring 3..) == "------") {
            return $c
        }
    }
    null
}

# Start the daemon in the background (at most every 5 s); never waits. The
# time of this try, for $env.__orenv.dtry.
def __orenv_spawn [last] {
    if ($env.ORENV_NO_DAEMON? | default "") != "" { return $last }
    let now = (date now)
    if $last != null and ($now - $last) < 5sec { return $last }
    let bin = (__orenv_conf).bin
    job spawn { "" | ^$bin daemon start --quiet --wait 0 | complete | ignore } | ignore
    $now
}

def --env __orenv_reload [why: string] {
    let conf = (__orenv_conf)
    let had = ($env.__orenv.names | length)
    # Put back what orenv replaced: saved values, or hidden again.
    let s = $env.__orenv
    for n in $s.names {
        if $n in $s.saved {
            load-env {($n): ($s.saved | get $n)}
        } else {
            hide-env -i $n
        }
    }
    let cands = (__orenv_cands $env.PWD)
    $env.__orenv = ($s | merge {names: [], saved: {}, gotmsg: false, none: false, cands: $cands})
    mut answer = ""
    mut asked = false
    if not (__orenv_found $cands) {
        # No policy: the answer is "nothing", which the restore above applied.
        $env.__orenv.none = true
        $env.__orenv.watch = []
        $env.__orenv.absent = []
        $asked = true
    } else if ($env.ORENV_NO_DAEMON? | default "") == "" and ($conf.client | path exists) {
        let rt = (__orenv_rtdir)
        if $rt != null {
            let sock = ($rt | path join "daemon.sock")
            let st = (__orenv_lstat $sock)
            if $st != null and $st.type == "socket" and (__orenv_mine $st) {
                # The key passes through this pipeline only: never a file or argv.
                let r = (do { ^$s.py -I -S $conf.client nu $"($nu.pid)" $why $sock $env.PWD } | complete)
                if $r.exit_code == 0 and $r.stdout != "" {
                    $answer = $r.stdout
                    $asked = true
                }
            }
        }
    }
    if not $asked {
        # What is left of the prompt's 1 s after a failed daemon attempt. stderr
        # could only hold a Python traceback: never shown, one line instead.
        let r = (do { ^$conf.bin export nu --session $"($nu.pid)" --deadline 0.4 } | complete)
        $answer = $r.stdout
        if $answer == "" {
            print -e "orenv: could not compute this directory's environment; run `orenv export nu` to see why"
        }
        $env.__orenv.dtry = (__orenv_spawn $env.__orenv.dtry)
    }
    __orenv_apply $answer
    $env.__orenv.why = "change"
    # Only now: an interrupted reload leaves the old directory recorded, so the
    # next prompt tries again.
    $env.__orenv.pwd = $env.PWD
    if not $env.__orenv.gotmsg {
        if $had > 0 and ($env.__orenv.names | is-empty) {
            print -e "orenv: unloaded"
        }
        $env.__orenv.lastmsg = ""
    }
}

def --env __orenv_check [] {
    let s = $env.__orenv
    if $env.PWD != $s.pwd {
        __orenv_reload "cd"
        return
    }
    if $s.none {
        if (__orenv_found $s.cands) { __orenv_reload "change" }
        return
    }
    # Reload when a watched file is newer than the reference or gone (a
    # missing reference: at every prompt), or an absent path appears.
    let ref = if $s.ref == "" { null } else { __orenv_mtime $s.ref }
    for f in $s.watch {
        let t = (__orenv_mtime $f)
        if $t == null or $ref == null or $t > $ref {
            __orenv_reload "change"
            return
        }
    }
    for f in $s.absent {
        if ($f | path exists -n) {
            __orenv_reload "change"
            return
        }
    }
}

# Installed once per shell (sourcing the hook again keeps what it applied);
# not at all once the orenv program is gone (a shell still starts quietly).
if ((__orenv_conf).bin | path exists) {
    if "__orenv" not-in $env {
        __orenv_init
        $env.config.hooks.pre_prompt = ($env.config.hooks.pre_prompt? | default []
            | append {|| __orenv_check })
    } else {
        __orenv_init
    }
}
