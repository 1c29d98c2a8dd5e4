#!/usr/bin/env bash
# Installs what the integration and UI (e2e) tests need to run a real VS Code offline, and nothing else:
#   - Debian packages chromium (the browser Playwright drives), libkrb5-dev (a native module of code-server
#     compiles against it) and ripgrep — only when missing;
#   - code-server 4.100.3 (= VS Code 1.100.3, the newest that runs on Node 20) in a reusable cache folder
#     OUTSIDE the project's dependency tree: ${GPT_LAB_CACHE:-$HOME/.cache/gpt-lab}/code-server-4.100.3.
# Idempotent and fast when everything is there. CI runs it (.ci/run); developers can run it too:
#   bash .ci/install-code-server.sh             # install (as root, or with sudo for the apt part)
#   bash .ci/install-code-server.sh --print-bin # print the code-server binary path, install nothing
# The tests find the binary through $CODE_SERVER_BIN, else at the cache path above; the browser through
# $CHROMIUM_BIN, else /usr/bin/chromium. See ../shared/facts/e2e-code-server.md for why each step is needed.
set -euo pipefail

CODE_SERVER_VERSION=4.100.3
CACHE="${GPT_LAB_CACHE:-${HOME:-/root}/.cache/gpt-lab}"
DIR="$CACHE/code-server-$CODE_SERVER_VERSION"
BIN="$DIR/node_modules/.bin/code-server"

if [[ "${1:-}" == "--print-bin" ]]; then
  echo "$BIN"
  exit 0
fi

log() { echo "[install-code-server] $*"; }

# --- Debian packages -------------------------------------------------------------------------------------
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v rg >/dev/null 2>&1 || missing+=(ripgrep)
dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev)
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then sudo=(); elif command -v sudo >/dev/null 2>&1; then sudo=(sudo); else
    log "missing Debian packages: ${missing[*]} — install them as root (apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  log "chromium, ripgrep and libkrb5-dev are installed"
fi

# --- code-server -----------------------------------------------------------------------------------------
# (an empty --config: otherwise code-server writes a default ~/.config/code-server/config.yaml)
works() {
  [[ -f "$DIR/.installed" && -x "$BIN" ]] || return 1
  : >"$DIR/empty-config.yaml"
  "$BIN" --config "$DIR/empty-config.yaml" --version 2>/dev/null | grep -q "^$CODE_SERVER_VERSION "
}
if works; then
  log "code-server $CODE_SERVER_VERSION already installed: $BIN"
  exit 0
fi

log "installing code-server $CODE_SERVER_VERSION into $DIR (about a minute)"
started=$SECONDS
rm -rf "$DIR"
mkdir -p "$DIR"
echo '{ "name": "gpt-lab-code-server-cache", "private": true }' >"$DIR/package.json"

# @vscode/ripgrep's postinstall downloads rg from GitHub unless its cache already holds the archive.
rg_cache="${TMPDIR:-/tmp}/vscode-ripgrep-cache-1.15.11"
rg_tar="$rg_cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
if [[ ! -s "$rg_tar" ]]; then
  mkdir -p "$rg_cache"
  tmp=$(mktemp -d)
  cp "$(command -v rg)" "$tmp/rg"
  tar -czf "$rg_tar.partial" -C "$tmp" rg
  mv "$rg_tar.partial" "$rg_tar"
  rm -rf "$tmp"
fi

# --unsafe-perm: code-server's postinstall refuses to run as root without it.
# npm_config_yes: a nested `npx node-gyp` cancels without a TTY otherwise.
(cd "$DIR" && npm_config_yes=true npm install --unsafe-perm --no-audit --no-fund --loglevel=error \
  "code-server@$CODE_SERVER_VERSION")
touch "$DIR/.installed"
if ! works; then
  log "code-server was installed but '$BIN --version' does not report $CODE_SERVER_VERSION" >&2
  exit 1
fi
log "code-server $CODE_SERVER_VERSION installed in $((SECONDS - started)) s: $BIN"
