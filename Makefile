# orenv: set-up, lint, tests, benchmarks. `make test` works on a fresh Debian
# machine as root with no stdin (it installs what is missing, once).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
NODE_PREFIX := .tools/node
CLAUDE := $(NODE_PREFIX)/node_modules/.bin/claude
# The current release (its native binary needs no particular Node; npm would
# otherwise pick an old one for this Node because of its engines field), and
# the older one that still honoured ANTHROPIC_UNIX_SOCKET in settings, for the
# test that shows no key reaches such a socket.
CLAUDE_VERSION := 2.1.332
CLAUDE_OLD_VERSION := 2.1.197
CLAUDE_STAMP := $(NODE_PREFIX)/.claude-$(CLAUDE_VERSION)
CLAUDE_OLD_PREFIX := .tools/node-$(CLAUDE_OLD_VERSION)
CLAUDE_OLD := $(CLAUDE_OLD_PREFIX)/node_modules/.bin/claude
# nushell for the nu hook's tests: the npm package ships the static binary
# (@nushell/<os>-<arch>); bin/nu links to it, so no node process wraps the shell.
NU_VERSION := 0.115.1
NU_PREFIX := .tools/nu
NU := $(NU_PREFIX)/bin/nu
# mise for the benchmark beside direnv: the npm package ships the native binary.
MISE_VERSION := 2026.9.15
MISE_PREFIX := .tools/mise
MISE := $(MISE_PREFIX)/node_modules/.bin/mise
APT_PACKAGES := zsh fish tmux gnome-keyring dbus dbus-x11 libsecret-tools shellcheck strace direnv \
  bubblewrap socat
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?= -n 2

SHELL_SCRIPTS := $(wildcard shell/*.bash) $(wildcard install.sh) $(wildcard .ci/run) $(wildcard .ci/portable)
ZSH_SCRIPTS := $(wildcard shell/*.zsh)
FISH_SCRIPTS := $(wildcard shell/*.fish)
NU_SCRIPTS := $(wildcard shell/*.nu)

.PHONY: deps apt-deps venv claude nushell mise lint test test-portable bench clean

deps: apt-deps venv claude nushell mise

# apt: only when a package is missing; `apt-get update` once, then install.
apt-deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	$(PYTHON) -c 'import venv, ensurepip' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "apt: installing$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $(SUDO) apt-get update -q </dev/null; \
	  $(SUDO) apt-get install -y -q --no-install-recommends $$missing </dev/null; \
	else echo "apt: all present"; fi

venv: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

# Re-run pip only when pyproject.toml is newer than the stamp. Editable in
# compat mode: a plain path entry; the default editable finder costs ~14 ms at
# every Python start, which the hook and the benchmark would both pay.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]' \
	  --config-settings editable_mode=compat </dev/null
	touch $(STAMP)

claude: $(CLAUDE_STAMP) $(CLAUDE_OLD)

$(CLAUDE_STAMP):
	npm install --prefix $(NODE_PREFIX) --no-package-lock --no-audit --no-fund \
	  '@anthropic-ai/claude-code@$(CLAUDE_VERSION)' </dev/null
	touch $@

$(CLAUDE_OLD):
	npm install --prefix $(CLAUDE_OLD_PREFIX) --no-package-lock --no-audit --no-fund \
	  '@anthropic-ai/claude-code@$(CLAUDE_OLD_VERSION)' </dev/null

nushell: $(NU)

$(NU):
	npm install --prefix $(NU_PREFIX) --no-package-lock --no-audit --no-fund \
	  'nushell@$(NU_VERSION)' </dev/null
	mkdir -p $(NU_PREFIX)/bin
	exe="$$(ls -d $(NU_PREFIX)/node_modules/@nushell/*/bin/nu | head -n 1)"; \
	  test -x "$$exe"; ln -sfn "../$${exe#$(NU_PREFIX)/}" $@
	$@ --version

mise: $(MISE)

$(MISE):
	npm install --prefix $(MISE_PREFIX) --no-package-lock --no-audit --no-fund \
	  '@jdxcode/mise@$(MISE_VERSION)' </dev/null
	$@ --version

# Each check runs only if its files exist yet.
lint:
	@for f in $(SHELL_SCRIPTS); do echo "bash -n $$f"; bash -n "$$f"; done
	@if [ -n "$(strip $(SHELL_SCRIPTS))" ]; then echo "shellcheck $(SHELL_SCRIPTS)"; shellcheck -s bash $(SHELL_SCRIPTS); fi
	@for f in $(ZSH_SCRIPTS); do echo "zsh -n $$f"; zsh -n "$$f"; done
	@for f in $(FISH_SCRIPTS); do echo "fish -n $$f"; fish -n "$$f"; done
	@for f in $(NU_SCRIPTS); do echo "nu --ide-check $$f"; \
	  errors="$$($(NU) --ide-check 50 "$$f" | grep '"severity":"Error"' || true)"; \
	  if [ -n "$$errors" ]; then echo "$$errors"; exit 1; fi; done
	@dirs=""; for d in orenv tests; do [ -d "$$d" ] && dirs="$$dirs $$d"; done; \
	if [ -n "$$dirs" ]; then echo "ruff check$$dirs"; $(VENV)/bin/ruff check $$dirs; fi
	@if [ -d orenv ]; then echo "mypy"; $(VENV)/bin/mypy; fi

test: deps
	$(MAKE) --no-print-directory lint
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# The suite once more as a contributor's machine looks (a clone in a 0700
# home, a long TMPDIR, no XDG_RUNTIME_DIR, a desktop keyring of the user's),
# checking that the user's own keyring, home and runtime dir stay untouched.
# PORTABLE_TESTS picks what runs (default: the suites that use sockets,
# paths, keyrings and other users).
PORTABLE_TESTS ?= tests/shells tests/daemon/test_shells.py tests/daemon/test_lifecycle.py \
  tests/daemon/test_client.py tests/daemon/test_interrupt_and_paths.py \
  tests/daemon/test_tmux.py tests/daemon/test_keyreader.py tests/daemon/test_fifo.py \
  tests/security/test_runtime_dir.py \
  tests/security/test_no_key_left.py tests/security/test_display.py \
  tests/security/test_hygiene.py tests/security/test_trust_attacks.py \
  tests/security/test_faults.py tests/security/test_hostile.py::test_special_files_real_export \
  tests/security/test_hostile.py::test_unreadable_policy_as_unprivileged_user \
  tests/e2e/test_claude_code.py tests/test_harness.py tests/test_install.py tests/test_helper.py
test-portable: deps
	bash .ci/portable $(PORTABLE_TESTS)

bench: deps
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache
