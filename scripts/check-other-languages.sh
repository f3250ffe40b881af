#!/usr/bin/env bash
# The protos in other languages (`make other-languages`; CI runs it, .ci/run installs the Debian
# packages it needs):
# - Java: protoc's messages compile with javac against Debian's protobuf-java, and protoc warns
#   of no clashing accessors;
# - C#: protoc's messages are generated without a warning (no .NET SDK in Debian to compile them);
# - Go: buf.gen.go.yaml's stubs, and examples/go compiled against them and run against a
#   `bucketd serve` in stand-in mode: it lists the buckets, then uploads a blob and reads it back
#   (ReadObject). Offline: GOPATH mode over the Go sources Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
server=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
protos=(protos/bucketd/v1/*.proto build/googleapis/google/api/*.proto build/googleapis/google/rpc/*.proto)
mkdir -p "$work/java" "$work/classes" "$work/csharp"
protoc -Iprotos -Ibuild/googleapis --java_out="$work/java" --csharp_out="$work/csharp" "${protos[@]}" \
  2>"$work/protoc.err" || { cat "$work/protoc.err" >&2; exit 1; }
if [ -s "$work/protoc.err" ]; then cat "$work/protoc.err" >&2; echo "protoc warned (above)" >&2; exit 1; fi
find "$work/java" -name '*.java' -print0 \
  | xargs -0 javac -nowarn -d "$work/classes" -cp /usr/share/java/protobuf.jar
echo "Java messages compiled ($(find "$work/classes" -name '*.class' | wc -l) classes); C# generated"

scripts/go-example.sh --build-only
echo "Go stubs generated in gen/go; examples/go compiled with $(go version | cut -d' ' -f3)"

key=sk_test_$(head -c 96 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32)
env -u MONGODB_URI -u S3_ENDPOINT_URL BUCKETD_DEV_API_KEY="$key" \
  .venv/bin/bucketd serve --grpc-port 0 --http-port 0 >"$work/serve.out" 2>"$work/serve.err" &
server=$!
for _ in $(seq 1200); do
  grep -q '^REST: ' "$work/serve.out" 2>/dev/null || ! kill -0 "$server" 2>/dev/null && break
  sleep 0.1
done
address=$(sed -n 's/^gRPC: //p' "$work/serve.out")
rest=$(sed -n 's/^REST: //p' "$work/serve.out")
[ -n "$address" ] || { cat "$work/serve.err" >&2; echo "bucketd serve did not start" >&2; exit 1; }
until curl -sf "$rest/readyz" >/dev/null; do sleep 0.2; done
curl -s --fail-with-body -o "$work/bucket.json" -X POST "$rest/v1/buckets" \
  -H "Authorization: Bearer $key" -H 'X-Namespace: default' \
  -d '{"bucket_name": "from_go_check", "bucket_schema": {"properties": {"title": {"type": "string"}, "notes": {"type": "text"}}}}' \
  || { cat "$work/bucket.json" >&2; exit 1; }
# as the README runs it, plus a bucket and property: it lists, then uploads and reads back
listed=$(BUCKETD_ADDRESS="$address" BUCKETD_API_KEY="$key" scripts/go-example.sh from_go_check notes)
echo "$listed"
grep -q ' from_go_check$' <<<"$listed" && grep -q '^1 bucket(s)$' <<<"$listed"
echo "examples/go listed the bucket over gRPC"
grep -qE '^obj_[A-Za-z0-9_]+: 3145735 bytes uploaded and read back in 2 slices, equal$' <<<"$listed"
echo "examples/go uploaded a blob and read it back over ReadObject"
