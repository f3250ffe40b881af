"""Benchmark: bucketd under load, against Ceph's RGW (bench/s3.py), loopback only, bounded in
time (`--seconds` per measured row) and count. Run it as `python -m bench.load`; each part is a
module of this package, and prints one table:

1. small JSON creates (a fresh 4 KiB inline blob) from `--clients` closed-loop clients over REST
   and over gRPC: creates/s, p50/p99, errors by status, bucketd's and the MongoDB stand-in's
   CPU-ms per create (from /proc), bucketd's RSS before and after (creates.py);
2. `--uploads` concurrent `--mib` MiB uploads without a cap, with the default budget and with a
   1 GiB one: peak RSS, admitted and refused, every hash checked, MB/s (uploads.py);
3. a victim organization's GET p99 alone and while another floods lists, aggregates and
   uploads; target ≤ 2x idle (tenants.py);
4. MongoDB commands per small create, counted as bench.create counts them; target ≤ 5
   (commands.py);
5. REST against gRPC creates/s at `--few` and `--clients` clients, p50 both ways; target
   ≥ 0.95x (creates.py, from part 1's runs and the same at `--few`).

bucketd runs as `bucketd serve` (one process) with a deployment's settings: admission on and
the default memory budget (part 2 varies it), on a MongoDB stand-in (mongoeco) of its own.

    .venv/bin/python -m bench.load [--seconds 60] [--clients 200] [--parts 1 2 3 4 5]
"""
