#!/usr/bin/env bash
# Runs every test of smx after installing what is missing (see scripts/setup.sh).
# Ends with a plain summary line "tests: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test || { echo "tests: 0 passed, 1 failed (setup failed)"; exit 1; }
log=$(mktemp)
deno task test "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
summary=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^(ok|FAILED) \| [0-9]+ passed' | tail -1)
passed=$(echo "$summary" | sed -E 's/.*\| ([0-9]+) passed.*/\1/')
failed=$(echo "$summary" | sed -E 's/.*\| ([0-9]+) failed.*/\1/')
rm -f "$log"
if [ -z "$summary" ]; then echo "tests: 0 passed, 1 failed (the test runner did not finish)"; exit 1; fi
echo "tests: ${passed} passed, ${failed} failed"
exit "$status"
