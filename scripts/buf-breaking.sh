#!/usr/bin/env bash
# buf breaking against a git ref (default: origin/main, else HEAD): `scripts/buf-breaking.sh REF`.
# The ref's protos are built in a scratch worktree with today's build/googleapis (copied at
# set-up time, never committed), which is why a plain `buf breaking --against .git#…` fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ref=${1:-$(git rev-parse --verify -q origin/main || echo HEAD)}
work=$(mktemp -d)
trap 'git worktree remove --force "$work/tree" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add -q --detach "$work/tree" "$ref"
mkdir -p "$work/tree/build" && cp -r build/googleapis "$work/tree/build/"
buf=$PWD/node_modules/.bin/buf
(cd "$work/tree" && "$buf" build protos -o "$work/against.binpb")
node_modules/.bin/buf breaking protos --against "$work/against.binpb"
