#!/usr/bin/env bash
# Renders the Dagster asset graph of this project to docs/asset-graph.png with headless Chromium
# (Debian's package, installed here if missing) driven by playwright-core (npm; no browser
# download). Starts its own webserver on 127.0.0.1 and stops it, by process group, when done.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-docs/asset-graph.png}"
command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
./dev setup
home=$(mktemp -d)
cp dagster_home/dagster.yaml "$home/"
port=$(.venv/bin/python -c 'from kinesis_pipelines.processes import free_port; print(free_port())')
DAGSTER_HOME="$home" setsid .venv/bin/dagster-webserver -w workspace.yaml -h 127.0.0.1 -p "$port" >"$home/webserver.log" 2>&1 &
pgid=$!
trap 'kill -TERM -- -$pgid 2>/dev/null || true; rm -rf "$home"' EXIT
for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$port/server_info" >/dev/null && break; sleep 1; done
mkdir -p "$(dirname "$out")"
tools="${KINESIS_PIPELINES_CACHE:-$HOME/.cache/kinesis-pipelines}/playwright"
[ -d "$tools/node_modules/playwright-core" ] || npm install --prefix "$tools" --no-audit --no-fund --loglevel=error playwright-core@1.57.0 >/dev/null
NODE_PATH="$tools/node_modules" node scripts/screenshot_asset_graph.js "http://127.0.0.1:$port/locations/kinesis_pipelines/asset-groups/records/lineage" "$out"
echo "wrote $out"
