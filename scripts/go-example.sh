#!/usr/bin/env bash
# Build examples/go against freshly generated Go stubs and run it (arguments, BUCKETD_ADDRESS
# and BUCKETD_API_KEY go to the example; --build-only stops after the build). GOPATH mode over the Go sources Debian packages
# (golang-google-grpc-dev & co.; docs/other-languages.md), so no module
# proxy is needed; everything is built under build/go-example.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$root/build/go-example
rm -rf "$work"
node_modules/.bin/buf generate --template buf.gen.go.yaml
stubs="$work/src/github.com/bucketd/bucketd/gen/go/bucketd"
mkdir -p "$stubs" "$work/src/bucketd-example"
cp -r gen/go/bucketd/v1 "$stubs/"
cp examples/go/main.go "$work/src/bucketd-example/"
(
  export GO111MODULE=off GOPATH="$work:/usr/share/gocode" GOCACHE="$work/cache" GOFLAGS=
  cd "$work/src/bucketd-example" && go vet . && go build -o "$work/bucketd-example" .
)
if [ "${1:-}" = "--build-only" ]; then exit 0; fi
exec "$work/bucketd-example" "$@"
