#!/usr/bin/env bash
# Builds the WAN reach's servers at pinned versions with `go install`, once per version, into a
# cache outside the repository (a clean clone reuses them; a version bump builds afresh):
#   $SMX_SERVER_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/smx/servers)/<name>-<version>/<binary>
# Prints nothing when both are cached; says what it builds otherwise. The two builds run side by
# side (about 2.5 and 4 minutes on 2 cores).
#   bash scripts/wan_servers.sh          build what is missing
#   bash scripts/wan_servers.sh --print  print NAME=path lines (for the test set-up)
set -euo pipefail

LIVEKIT_VERSION=v1.13.5
CENTRIFUGO_VERSION=v6.9.1
cache="${SMX_SERVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/smx/servers}"
livekit_dir="$cache/livekit-server-$LIVEKIT_VERSION"
centrifugo_dir="$cache/centrifugo-$CENTRIFUGO_VERSION"

if [ "${1:-}" = --print ]; then
  echo "LIVEKIT_SERVER=$livekit_dir/server"
  echo "CENTRIFUGO=$centrifugo_dir/centrifugo"
  exit 0
fi

build() { # name dir module@version binary
  local name=$1 dir=$2 module=$3 binary=$4
  [ -x "$dir/$binary" ] && return 0
  if ! command -v go >/dev/null; then
    echo "setup: $name is missing and so is Go; install Go 1.22+ (https://go.dev/dl)" >&2
    return 1
  fi
  echo "setup: building $name with go install $module (cached in $dir)"
  local tmp="$dir.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  if GOBIN="$tmp" CGO_ENABLED=0 go install "$module" >"$tmp.log" 2>&1; then
    mv "$tmp" "$dir.new.$$" && rm -rf "$dir" && mv "$dir.new.$$" "$dir" && rm -f "$tmp.log"
  else
    echo "setup: building $name failed:" >&2
    tail -20 "$tmp.log" >&2
    rm -rf "$tmp"
    return 1
  fi
}

mkdir -p "$cache"
build livekit-server "$livekit_dir" \
  "github.com/livekit/livekit-server/cmd/server@$LIVEKIT_VERSION" server &
lk=$!
build centrifugo "$centrifugo_dir" \
  "github.com/centrifugal/centrifugo/v6@$CENTRIFUGO_VERSION" centrifugo &
cf=$!
status=0
wait $lk || status=1
wait $cf || status=1
exit $status
