#!/usr/bin/env bash
# Runs smx after installing what is missing (see scripts/setup.sh). Arguments go to `smx start`,
# e.g. `bash scripts/run.sh --port 8080`. With no engine found it starts the demo engine.
# Serves the LAN too (--lan: devices pair by QR code) unless --no-lan is given.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
lan=(--lan)
for a in "$@"; do
  if [ "$a" = "--no-lan" ]; then lan=(); fi
done
exec deno run -A main.ts start "${lan[@]}" "$@"
