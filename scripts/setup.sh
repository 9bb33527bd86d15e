#!/usr/bin/env bash
# Installs whatever smx is missing on a Debian machine that has Node.js, saying what it installs,
# then builds the native shim. Idempotent: a second run installs nothing.
#   bash scripts/setup.sh          what `start` needs (Deno, FFmpeg/x264/libyuv/TurboJPEG dev
#                                  packages, gcc)
#   bash scripts/setup.sh test     also what the tests need (ffmpeg/ffprobe, Chromium, Firefox ESR, valgrind,
#                                  redis-server, livekit-server and Centrifugo (scripts/wan_servers.sh),
#                                  zbarimg to decode the pairing QR off a frame, mingw-w64 and
#                                  Wine for the Windows shim)
set -euo pipefail
cd "$(dirname "$0")/.."

DENO_VERSION=2.9.6
mode="${1:-run}"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "setup: need root (or sudo) to run: $*" >&2; exit 1
  fi
}

packages=(gcc pkg-config libavcodec-dev libavutil-dev libswscale-dev libx264-dev libyuv-dev
  libturbojpeg0-dev)
if [ "$mode" = test ] || [ "$mode" = bench ]; then
  packages+=(ffmpeg chromium firefox-esr fonts-dejavu-core valgrind zbar-tools iproute2 redis-server)
  # The Windows shim: cross-built with mingw-w64 (NVENC's API headers from libffmpeg-nvenc-dev),
  # its Spout receiver tested under Wine, headless under Xvfb (tests/windows_shim_test.ts).
  packages+=(gcc-mingw-w64-x86-64 libffmpeg-nvenc-dev wine wine64 xvfb xauth)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v deno >/dev/null || [ "$(deno --version | head -1 | cut -d' ' -f2)" != "$DENO_VERSION" ]; then
  if ! command -v npm >/dev/null; then
    echo "setup: Deno is missing and so is npm; install Node.js first (apt-get install nodejs npm)" >&2
    exit 1
  fi
  echo "setup: installing Deno $DENO_VERSION from the npm registry (npm install -g deno@$DENO_VERSION)"
  as_root npm install -g --silent "deno@$DENO_VERSION" >/dev/null 2>&1 || as_root npm install -g "deno@$DENO_VERSION"
fi

# npm packages (hono, preact, esbuild, playwright-core …) are pinned in deno.json and fetched by
# Deno into node_modules/ on first use; this makes that happen now, with a visible message.
if [ ! -d node_modules/.deno ]; then echo "setup: fetching npm packages pinned in deno.json"; fi
deno install --quiet >/dev/null

deno task --quiet build:native

# The WAN reach's tests run the real LiveKit and Centrifugo servers, built from source at pinned
# versions and cached outside the repository (scripts/wan_servers.sh says what it builds).
if [ "$mode" = test ] || [ "$mode" = bench ]; then
  bash scripts/wan_servers.sh
fi
