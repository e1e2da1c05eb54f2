"""Security rules as data: what a repository may set, and what redirects a key.

Each table maps a name to a one-line reason; one function reads each table,
and the tests iterate over the tables. Adding a name is one line with its
reason, and a reviewer sees the whole rule at once (sudo's ``env_keep``,
OpenSSH's ``AcceptEnv``).

* ``ENV_HARMLESS``: the names a policy's ``[env]`` (and a repository's own
  Claude Code settings ``env`` block) may set without asking: they tune
  timeouts, limits, effort, caching, cosmetics, or turn things off. Everything
  else is refused unless the user lists it in ``allow_env`` in their own
  ``config.toml``.
* ``ENV_NEVER`` / ``ENV_NEVER_PREFIXES``: names that change where traffic
  goes, which code runs, TLS trust, credentials, or where Claude Code reads
  its settings. No policy may set them, not even with ``allow_env``.
* ``ORENV_MANAGED``: names orenv sets itself from ``[openrouter]``,
  ``[models]``, ``[routing]`` and ``[attribution]``.
* ``SHELL_SPECIAL``: names special to zsh, bash, fish or nushell (read-only,
  privilege-changing, prompt or trap code, integer-typed); they never reach a
  shell.
* ``SETTINGS_REDIRECTS``: Claude Code settings ``env`` entries that send the
  request (and the key) somewhere; checked in every settings file Claude Code
  reads, including the user's and managed ones.
* ``SETTINGS_COMMANDS``: settings keys that make Claude Code run a command.

Names are compared case-insensitively (``Https_Proxy`` is ``HTTPS_PROXY``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "ENV_HARMLESS",
    "ENV_NEVER",
    "ENV_NEVER_PREFIXES",
    "MODEL_ALIASES",
    "MODEL_VARS",
    "ORENV_MANAGED",
    "SETTINGS_COMMANDS",
    "SETTINGS_REDIRECTS",
    "SETTINGS_REDIRECT_PREFIXES",
    "SHELL_SPECIAL",
    "SHELL_SPECIAL_PREFIXES",
    "SWITCH_VALUES",
    "EnvRule",
    "env_verdict",
    "never_reason",
    "settings_redirect",
    "shell_special",
]


@dataclass(frozen=True)
class EnvRule:
    """Why a name is harmless; ``switch``: only an "on" value is (see SWITCH_VALUES)."""

    reason: str
    switch: bool = False


# A repository must not be able to turn a protective switch back off (an empty
# or "0" value reads as off), so switches accept only these values.
SWITCH_VALUES = frozenset({"1", "true", "yes", "on"})

_S = True  # marks a switch below

ENV_HARMLESS: Mapping[str, EnvRule] = {
    name: EnvRule(reason, switch) for name, (reason, switch) in {
        # timeouts, retries, streaming
        "API_TIMEOUT_MS": ("API request timeout", False),
        "API_FORCE_IDLE_TIMEOUT": ("stream idle-timeout toggle", False),
        "BASH_DEFAULT_TIMEOUT_MS": ("default Bash tool timeout", False),
        "BASH_MAX_TIMEOUT_MS": ("longest Bash timeout the model may ask for", False),
        "MCP_TIMEOUT": ("MCP server start-up timeout", False),
        "MCP_TOOL_TIMEOUT": ("MCP tool timeout", False),
        "MCP_CONNECT_TIMEOUT_MS": ("how long start-up waits for MCP servers", False),
        "CLAUDE_CODE_GLOB_TIMEOUT_SECONDS": ("Glob tool timeout", False),
        "CLAUDE_STREAM_IDLE_TIMEOUT_MS": ("stream watchdog timeout", False),
        "CLAUDE_CODE_MAX_RETRIES": ("API retry count", False),
        "CLAUDE_CODE_WEBFETCH_CACHE_TTL_MS": ("WebFetch cache lifetime", False),
        # output, token and concurrency limits
        "BASH_MAX_OUTPUT_LENGTH": ("Bash output length cap", False),
        "TASK_MAX_OUTPUT_LENGTH": ("subagent output length cap", False),
        "MAX_MCP_OUTPUT_TOKENS": ("MCP output token cap", False),
        "CLAUDE_CODE_FILE_READ_MAX_OUTPUT_TOKENS": ("file read token cap", False),
        "CLAUDE_CODE_MAX_OUTPUT_TOKENS": ("output token cap", False),
        "SLASH_COMMAND_TOOL_CHAR_BUDGET": ("skill description budget", False),
        "CLAUDE_CODE_MAX_TOOL_USE_CONCURRENCY": ("parallel read-only tools", False),
        "CLAUDE_CODE_MAX_TURNS": ("agentic turn cap", False),
        # thinking, effort, compaction
        "MAX_THINKING_TOKENS": ("thinking budget", False),
        "CLAUDE_CODE_EFFORT_LEVEL": ("effort level", False),
        "CLAUDE_CODE_DISABLE_ADAPTIVE_THINKING": ("fixed thinking budget", False),
        "DISABLE_INTERLEAVED_THINKING": ("no interleaved-thinking beta header", False),
        "DISABLE_AUTO_COMPACT": ("no automatic compaction", False),
        "CLAUDE_AUTOCOMPACT_PCT_OVERRIDE": ("compact earlier", False),
        "CLAUDE_CODE_MAX_CONTEXT_TOKENS": ("assumed context window", False),
        "CLAUDE_CODE_DISABLE_1M_CONTEXT": ("no 1M context", False),
        # prompt caching
        "DISABLE_PROMPT_CACHING": ("prompt caching off", False),
        "DISABLE_PROMPT_CACHING_HAIKU": ("prompt caching off for haiku", False),
        "DISABLE_PROMPT_CACHING_SONNET": ("prompt caching off for sonnet", False),
        "DISABLE_PROMPT_CACHING_OPUS": ("prompt caching off for opus", False),
        "DISABLE_PROMPT_CACHING_FABLE": ("prompt caching off for fable", False),
        # request shape (compatibility with gateways such as OpenRouter)
        "CLAUDE_CODE_DISABLE_EXPERIMENTAL_BETAS": ("no beta headers", False),
        "CLAUDE_CODE_ENABLE_FINE_GRAINED_TOOL_STREAMING": ("tool input streaming", False),
        "ENABLE_TOOL_SEARCH": ("MCP tool deferral", False),
        # telemetry, reporting, updates: off only
        "DISABLE_TELEMETRY": ("telemetry off", _S),
        "DO_NOT_TRACK": ("telemetry off", _S),
        "DISABLE_ERROR_REPORTING": ("error reporting off", _S),
        "DISABLE_AUTOUPDATER": ("automatic updates off", _S),
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": ("non-essential traffic off", _S),
        "CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY": ("feedback survey off", _S),
        "DISABLE_BUG_COMMAND": ("hide /bug", _S),
        "DISABLE_FEEDBACK_COMMAND": ("hide /feedback", _S),
        # features off, cosmetics
        "CLAUDE_CODE_DISABLE_TERMINAL_TITLE": ("no terminal title updates", _S),
        "CLAUDE_CODE_DISABLE_BACKGROUND_TASKS": ("background tasks off", _S),
        "CLAUDE_CODE_IDE_SKIP_AUTO_INSTALL": ("no IDE extension install", _S),
        "CLAUDE_BASH_MAINTAIN_PROJECT_WORKING_DIR": ("Bash returns to the project dir", _S),
        "CLAUDE_CODE_DISABLE_MOUSE": ("mouse off", _S),
        "CLAUDE_CODE_ACCESSIBILITY": ("native cursor for screen readers", _S),
        "CLAUDE_CODE_SYNTAX_HIGHLIGHT": ("diff highlighting", False),
        "NO_COLOR": ("colour off", False),
        # safety switches: on only (a repository may tighten, never loosen)
        "CLAUDE_CODE_SKIP_PROMPT_HISTORY": ("keep transcripts off disk", _S),
    }.items()
}

# Names orenv sets itself; [env] may not set them (the table that owns each says so).
MODEL_VARS: Mapping[str, str] = {
    "opus": "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "sonnet": "ANTHROPIC_DEFAULT_SONNET_MODEL",
    "haiku": "ANTHROPIC_DEFAULT_HAIKU_MODEL",
    "fable": "ANTHROPIC_DEFAULT_FABLE_MODEL",
    "default": "ANTHROPIC_MODEL",
    "subagent": "CLAUDE_CODE_SUBAGENT_MODEL",
}
# Claude Code's own aliases for ANTHROPIC_MODEL (docs "model configuration") and
# the [models] slots one of which must be mapped for the alias to reach an
# OpenRouter model; `best` is fable where Fable is available, else opus.
MODEL_ALIASES: Mapping[str, tuple[str, ...]] = {
    "default": (), "sonnet": ("sonnet",), "opus": ("opus",), "haiku": ("haiku",),
    "fable": ("fable",), "best": ("fable", "opus"), "opusplan": ("opus", "sonnet"),
    "sonnet[1m]": ("sonnet",), "opus[1m]": ("opus",),
}
ORENV_MANAGED: Mapping[str, str] = {
    "ANTHROPIC_BASE_URL": "[openrouter] base_url",
    "ANTHROPIC_AUTH_TOKEN": "[openrouter] key",
    "ANTHROPIC_API_KEY": "[openrouter] (always set empty)",
    "CLAUDE_CODE_EXTRA_BODY": "[routing]",
    "ANTHROPIC_CUSTOM_HEADERS": "[attribution]",
    "CLAUDE_CODE_SUBPROCESS_ENV_SCRUB": "[claude] scrub_subprocess_env",
    **{var: f"[models] {slot}" for slot, var in MODEL_VARS.items()},
}

ENV_NEVER: Mapping[str, str] = {
    # where traffic goes
    "HTTP_PROXY": "routes traffic through a proxy",
    "HTTPS_PROXY": "routes traffic through a proxy",
    "ALL_PROXY": "routes traffic through a proxy",
    "NO_PROXY": "bypasses your proxy",
    "FTP_PROXY": "routes traffic through a proxy",
    "ANTHROPIC_UNIX_SOCKET": "sends Claude Code's requests, key included, to a socket",
    "CLAUDE_CODE_API_BASE_URL": "changes where Claude Code sends requests",
    "CLAUDE_CODE_PROXY_RESOLVES_HOSTS": "changes how the proxy resolves hosts",
    "CLAUDE_CODE_IDE_HOST_OVERRIDE": "redirects the IDE connection",
    "CLOUD_ML_REGION": "picks the cloud region",
    "DOCKER_HOST": "picks the Docker daemon",
    "KUBECONFIG": "picks the Kubernetes cluster",
    "OPENROUTER_API_KEY": "a credential",
    # TLS trust and secrets
    "SSLKEYLOGFILE": "writes TLS session secrets to a file",
    "NODE_TLS_REJECT_UNAUTHORIZED": "turns off TLS certificate checks",
    "NODE_EXTRA_CA_CERTS": "adds trusted certificate authorities",
    "REQUESTS_CA_BUNDLE": "replaces trusted certificate authorities",
    "CURL_CA_BUNDLE": "replaces trusted certificate authorities",
    # which code or programs run
    "PATH": "chooses which programs run",
    "BASH_ENV": "runs a file in every bash script",
    "ENV": "runs a file in every sh",
    "ZDOTDIR": "chooses zsh's start-up files",
    "SHELL": "chooses the shell programs start",
    "EDITOR": "chooses a program that runs",
    "VISUAL": "chooses a program that runs",
    "PAGER": "chooses a program that runs",
    "MANPAGER": "chooses a program that runs",
    "LESSOPEN": "runs a program on every file less opens",
    "LESSCLOSE": "runs a program when less closes a file",
    "BROWSER": "chooses a program that runs",
    "SSH_ASKPASS": "chooses a program that runs",
    "SUDO_ASKPASS": "chooses a program that runs",
    "CLASSPATH": "chooses Java code that loads",
    "GCONV_PATH": "loads code into every C program",
    "RUSTC_WRAPPER": "wraps every rustc run",
    "GOFLAGS": "changes how go builds and fetches",
    "GOPROXY": "changes where go fetches code",
    "USE_BUILTIN_RIPGREP": "makes Claude Code run ripgrep from PATH",
    "CLAUDE_ENV_FILE": "a file Claude Code runs before every Bash command",
    "TERMINFO": "a terminal database programs parse",
    "TERMINFO_DIRS": "terminal databases programs parse",
    "INPUTRC": "readline key bindings that can run commands",
    # where settings, credentials and state are read
    "CLAUDE_CONFIG_DIR": "changes where Claude Code reads its settings",
    "HOME": "changes where every program reads its settings",
    "TMPDIR": "changes where programs put temporary files",
    "CLAUDE_CODE_PROVIDER_MANAGED_BY_HOST": "changes which Claude Code settings are honoured",
    "CLAUDE_CODE_TMPDIR": "changes where Claude Code puts temporary files",
    "CLAUDE_CODE_DEBUG_LOGS_DIR": "makes Claude Code write logs to a chosen place",
    "DBUS_SESSION_BUS_ADDRESS": "chooses the bus your keyring is reached on",
    "SSH_AUTH_SOCK": "chooses the ssh agent",
    "HISTFILE": "chooses where history is written",
    "USER": "your identity for programs",
    "LOGNAME": "your identity for programs",
    "TERM": "terminal type, re-initialises the shell's terminal",
}

ENV_NEVER_PREFIXES: Mapping[str, str] = {
    "LD_": "loads code into every program",
    "DYLD_": "loads code into every program",
    "NODE_": "changes how Node.js (and Claude Code's helpers) load code and trust TLS",
    "BUN_": "changes how the Bun runtime inside Claude Code behaves",
    "PYTHON": "changes which Python code loads",
    "PERL": "changes which Perl code loads",
    "RUBY": "changes which Ruby code loads",
    "JAVA_": "adds Java options, agents included",
    "_JAVA_": "adds Java options, agents included",
    "JDK_": "adds Java options, agents included",
    "GIT_": "changes which programs git runs (pager, ssh, diff, askpass) and its config",
    "NPM_CONFIG_": "changes npm's registry, scripts or proxy",
    "YARN_": "changes yarn's registry or scripts",
    "PIP_": "changes where pip installs from",
    "UV_": "changes where uv installs from",
    "POETRY_": "changes where poetry installs from",
    "CARGO_": "changes cargo's registry or runner",
    "BUNDLE_": "changes where bundler installs from",
    "OTEL_": "sends telemetry somewhere (and can carry headers)",
    "SSL_": "changes TLS trust",
    "OPENSSL_": "loads OpenSSL configuration and engines",
    "GRPC_": "changes gRPC proxies and trust",
    "GLOBAL_AGENT_": "routes Node.js traffic through a proxy",
    "AWS_": "AWS credentials, endpoints and regions",
    "AZURE_": "Azure credentials and endpoints",
    "GOOGLE_": "Google Cloud credentials and projects",
    "GCLOUD_": "Google Cloud credentials and projects",
    "CLOUDSDK_": "Google Cloud SDK settings",
    "GCE_": "the cloud metadata endpoint",
    "GH_": "GitHub CLI credentials and hosts",
    "GITHUB_": "GitHub credentials",
    "DOCKER_": "Docker daemon and credentials",
    "ANTHROPIC_": "Claude Code's endpoints, credentials and providers",
    "CLAUDE_CODE_USE_": "switches Claude Code to another provider",
    "CLAUDE_CODE_SKIP_": "skips Claude Code's authentication or checks",
    "CLAUDE_CODE_CLIENT_": "TLS client certificates",
    "CLAUDE_CODE_OAUTH": "Claude Code's login",
    "CLAUDE_CODE_SHELL": "the shell (or prefix) Claude Code runs commands with",
    "CLAUDE_CODE_GIT_BASH": "the shell Claude Code runs commands with",
    "CLAUDE_CODE_PLUGIN": "where Claude Code gets plugin code",
    "CLAUDE_CODE_SYNC": "where Claude Code gets plugin and skill code",
    "CLAUDE_CODE_ENABLE_TELEMETRY": "turns on telemetry export",
    "CLAUDE_CODE_PROCESS_WRAPPER": "wraps every program Claude Code starts",
    "ORENV_": "orenv's own variables",
    "__ORENV": "orenv's own variables",
    "XDG_": "changes where programs read settings and keep sockets",
    "KEYRING": "changes the keyring backend",
    "DBUS_": "chooses the bus your keyring is reached on",
}

# Names special to zsh, bash, fish or nushell: read-only (assignment fails half-way),
# privilege-changing (zsh as root: UID/USERNAME call setuid), prompt or trap
# code, integer-typed (assignment is arithmetic: "path[$(cmd)]" runs cmd), or
# tied to shell state. Values are the shells that treat the name specially.
_ZSH = "zsh"
_BASH = "bash"
_FISH = "fish"
_NU = "nushell"
_ZB = "zsh and bash"
SHELL_SPECIAL: Mapping[str, str] = {
    **dict.fromkeys((
        "UID", "EUID", "GID", "EGID", "USERNAME", "ARGC", "argv", "path", "fpath", "cdpath",
        "manpath", "module_path", "MODULE_PATH", "mailpath", "psvar", "PSVAR", "PROMPT",
        "PROMPT2", "PROMPT3", "PROMPT4", "prompt", "RPROMPT", "RPROMPT2", "RPS1", "RPS2",
        "SPROMPT", "PROMPT_EOL_MARK", "KEYTIMEOUT", "LISTMAX", "DIRSTACKSIZE", "LOGCHECK",
        "PERIOD", "REPORTTIME", "REPORTMEMORY", "ERRNO", "TTYIDLE", "BAUD", "TRY_BLOCK_ERROR",
        "TRY_BLOCK_INTERRUPT", "reply", "match", "mbegin", "mend", "MATCH", "MBEGIN", "MEND",
        "NULLCMD", "READNULLCMD", "STTY", "TIMEFMT", "WATCH", "watch", "WATCHFMT", "WORDCHARS",
        "histchars", "HISTCHARS", "fignore", "mapfile", "parameters", "options", "functions",
        "commands", "aliases", "galiases", "saliases", "builtins", "history", "historywords",
        "jobdirs", "jobstates", "jobtexts", "modules", "nameddirs", "userdirs", "usergroups",
        "reswords", "dirstack", "funcstack", "funcfiletrace", "funcsourcetrace", "functrace",
        "signals", "terminfo", "termcap", "errnos", "sysparams", "langinfo", "patchars",
        "dis_aliases", "dis_builtins", "dis_functions", "dis_galiases", "dis_patchars",
        "dis_reswords", "dis_saliases", "widgets", "keymaps", "zsh_eval_context",
        "zsh_scheduled_events", "epochtime", "MAIL", "TMPPREFIX", "TMPSUFFIX", "POSTEDIT",
        "FCEDIT", "CORRECT_IGNORE", "CORRECT_IGNORE_FILE", "TTY", "VENDOR", "CPUTYPE", "HOST",
        "KEYBOARD_HACK", "ZBEEP", "pipestatus",
    ), _ZSH),
    **dict.fromkeys((
        "PS0", "GROUPS", "BASHPID", "FUNCNAME", "FUNCNEST", "SRANDOM", "GLOBIGNORE",
        "EXECIGNORE", "HOSTFILE", "HISTCONTROL", "HISTIGNORE", "HISTFILESIZE",
        "HISTTIMEFORMAT", "IGNOREEOF", "POSIXLY_CORRECT", "PIPESTATUS", "COMPREPLY", "COPROC",
        "DIRSTACK", "MAPFILE", "OPTERR", "PROMPT_DIRTRIM", "TIMEFORMAT", "auto_resume",
        "CHILD_MAX", "EMACS", "INSIDE_EMACS", "GLOBSORT", "HOSTTYPE", "PROMPT_COMMAND",
        "SHELLOPTS", "BASHOPTS", "PS1", "PS2", "PS3", "PS4", "IFS", "CDPATH", "BASH",
        "BASH_ALIASES", "BASH_ARGC", "BASH_ARGV", "BASH_ARGV0", "BASH_CMDS", "BASH_COMMAND",
        "BASH_COMPAT", "BASH_ENV", "BASH_EXECUTION_STRING", "BASH_LINENO",
        "BASH_LOADABLES_PATH", "BASH_MONOSECONDS", "BASH_REMATCH", "BASH_SOURCE",
        "BASH_SUBSHELL", "BASH_TRAPSIG", "BASH_VERSINFO", "BASH_VERSION", "BASH_XTRACEFD",
    ), _BASH),
    **dict.fromkeys((
        "PPID", "status", "SECONDS", "RANDOM", "LINENO", "HISTCMD", "HISTSIZE", "SAVEHIST",
        "COLUMNS", "LINES", "OPTIND", "OPTARG", "REPLY", "OLDPWD", "PWD", "SHLVL", "TMOUT",
        "MAILCHECK", "MAILPATH", "FIGNORE", "MACHTYPE", "OSTYPE", "EPOCHSECONDS",
        "EPOCHREALTIME", "FPATH", "MANPATH",
    ), _ZB),
    **dict.fromkeys((
        "version", "hostname", "umask", "CMD_DURATION", "last_pid", "_", "status_generation",
        "fish_pid", "fish_kill_signal", "fish_killring", "fish_private_mode", "FISH_VERSION",
        "PATH", "CDPATH", "MANPATH",
    ), _FISH),
    # nushell: its configuration, prompt closures and automatic variables
    # (PWD, OLDPWD, PROMPT_COMMAND are taken above).
    **dict.fromkeys((
        "config", "ENV_CONVERSIONS", "PROMPT_COMMAND_RIGHT", "LAST_EXIT_CODE",
        "CMD_DURATION_MS", "CURRENT_FILE", "FILE_PWD", "DIRS_POSITION", "DIRS_LIST",
    ), _NU),
}
SHELL_SPECIAL_PREFIXES: Mapping[str, str] = {
    "BASH_FUNC_": _BASH, "TRAP": _ZSH, "COMP_": _BASH, "READLINE_": _BASH, "ZLE_": _ZSH,
    "ZSH": _ZSH, "FISH_": _FISH, "__FISH": _FISH,
    "NU_": _NU, "PROMPT_INDICATOR": _NU, "PROMPT_MULTILINE": _NU, "TRANSIENT_PROMPT_": _NU,
    # The hooks' own state (nu keeps it in the record $env.__orenv).
    "__ORENV": "the orenv hooks",
}

_HARMLESS_UPPER = {name.upper(): rule for name, rule in ENV_HARMLESS.items()}
_NEVER_UPPER = {name.upper(): reason for name, reason in ENV_NEVER.items()}
_MANAGED_UPPER = {name.upper(): owner for name, owner in ORENV_MANAGED.items()}
_SPECIAL_UPPER = {name.upper(): shell for name, shell in SHELL_SPECIAL.items()}


def _lookup(name: str, exact: Mapping[str, str], prefixes: Mapping[str, str]) -> str | None:
    """The value for *name* in an upper-cased exact table, else by prefix; or None."""
    upper = name.upper()
    if upper in exact:
        return exact[upper]
    for prefix, value in prefixes.items():
        if upper.startswith(prefix.upper()):
            return value
    return None


def shell_special(name: str) -> str | None:
    """The shell(s) for which *name* is special, or None."""
    return _lookup(name, _SPECIAL_UPPER, SHELL_SPECIAL_PREFIXES)


def never_reason(name: str) -> str | None:
    """Why no policy may ever set *name*, or None."""
    return _lookup(name, _NEVER_UPPER, ENV_NEVER_PREFIXES)


def env_verdict(name: str, value: str | None, allowed: frozenset[str] = frozenset()
                ) -> tuple[str, str]:
    """How a repository-set variable is judged: (verdict, reason).

    Verdicts: ``ok``; ``managed`` (orenv sets it from a table: the reason
    names it); ``special`` (a shell treats it specially); ``never``;
    ``switch`` (a switch given a value other than "on"); ``unknown`` (not
    known to be harmless and not in the user's *allowed* set, upper-cased).
    """
    upper = name.upper()
    if upper in _MANAGED_UPPER:
        return "managed", _MANAGED_UPPER[upper]
    shell = shell_special(name)
    if shell is not None:
        return "special", shell
    rule = _HARMLESS_UPPER.get(upper)
    if rule is not None:
        if rule.switch and value is not None and value.strip().lower() not in SWITCH_VALUES:
            return "switch", rule.reason
        return "ok", rule.reason
    reason = never_reason(name)
    if reason is not None:
        return "never", reason
    if upper in allowed:
        return "ok", "listed in allow_env"
    return "unknown", "not known to be harmless"


# ------------------------------------------------------------ Claude Code settings

# env entries in any Claude Code settings file that send requests somewhere.
# "url": allowed only when the value's host is in allowed_hosts; "always": the
# entry alone redirects, whatever its value.
SETTINGS_REDIRECTS: Mapping[str, tuple[str, str]] = {
    "ANTHROPIC_BASE_URL": ("url", "sends every request, key included, to that URL"),
    "HTTPS_PROXY": ("url", "sends every request, key included, through that proxy"),
    "HTTP_PROXY": ("url", "sends plain-http requests, key included, through that proxy"),
    "ALL_PROXY": ("url", "sends every request, key included, through that proxy"),
    "ANTHROPIC_UNIX_SOCKET": ("always", "sends every request, key included, to that socket"),
    "CLAUDE_CODE_API_BASE_URL": ("always", "changes where Claude Code sends requests"),
    "ANTHROPIC_BEDROCK_BASE_URL": ("always", "sends requests to that endpoint"),
    "ANTHROPIC_VERTEX_BASE_URL": ("always", "sends requests to that endpoint"),
    "ANTHROPIC_FOUNDRY_BASE_URL": ("always", "sends requests to that endpoint"),
    "ANTHROPIC_AWS_BASE_URL": ("always", "sends requests to that endpoint"),
    "ANTHROPIC_BEDROCK_MANTLE_BASE_URL": ("always", "sends requests to that endpoint"),
    "ANTHROPIC_FOUNDRY_RESOURCE": ("always", "sends requests to that resource"),
    "NODE_OPTIONS": ("always", "loads code into Claude Code's Node.js helpers"),
    "NODE_TLS_REJECT_UNAUTHORIZED": ("always", "turns off TLS certificate checks"),
    "SSLKEYLOGFILE": ("always", "writes TLS session secrets to a file"),
}
SETTINGS_REDIRECT_PREFIXES: Mapping[str, str] = {
    "CLAUDE_CODE_USE_": "switches Claude Code to another provider",
}

# Settings keys whose value is a command Claude Code runs (with your environment).
SETTINGS_COMMANDS: Mapping[str, str] = {
    "apiKeyHelper": "prints the key Claude Code sends",
    "awsAuthRefresh": "refreshes AWS credentials",
    "awsCredentialExport": "prints AWS credentials",
    "gcpAuthRefresh": "refreshes Google Cloud credentials",
    "otelHeadersHelper": "prints telemetry headers",
    "statusLine": "draws the status line",
    "subagentStatusLine": "draws the subagent status line",
    "fileSuggestion": "suggests files",
    "hooks": "run at Claude Code events (with your environment, key included in export mode)",
}


def settings_redirect(name: str) -> tuple[str, str] | None:
    """(kind, reason) when a settings ``env`` entry *name* can redirect requests."""
    upper = name.upper()
    for known, rule in SETTINGS_REDIRECTS.items():
        if upper == known:
            return rule
    for prefix, reason in SETTINGS_REDIRECT_PREFIXES.items():
        if upper.startswith(prefix):
            return "always", reason
    return None
