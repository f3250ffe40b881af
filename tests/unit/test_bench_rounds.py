"""bench.upload --rounds: each path's median over the rounds, not one noisy run."""

from bench.upload import Row, medians

MIB = 1024 * 1024


def _round(grpc_cpu: float, grpc_rate: float, rss: int) -> list[Row]:
    return [
        Row("boto3 when_required", 250.0, 0, {"bucketd": 0.0, "s3": 6.0, "client": 2.0}),
        Row("grpc", grpc_rate, rss, {"bucketd": grpc_cpu, "s3": 5.0, "client": 1.0}),
    ]


def test_medians_take_each_path_median_and_its_largest_memory_growth() -> None:
    rounds = [_round(2.4, 200.0, 40 * MIB), _round(2.1, 240.0, 10 * MIB), _round(2.2, 210.0, MIB)]

    rows, spread = medians(rounds)

    grpc = next(row for row in rows if row.name == "grpc")
    assert (grpc.rate, grpc.cpu["bucketd"], grpc.rss_growth) == (210.0, 2.2, 40 * MIB)
    assert spread["grpc"] == (2.1, 2.4)
    assert [row.name for row in rows] == ["boto3 when_required", "grpc"]  # the rounds' order


def test_one_round_is_its_own_median() -> None:
    rows, spread = medians([_round(2.3, 220.0, MIB)])

    assert rows == _round(2.3, 220.0, MIB)
    assert spread["grpc"] == (2.3, 2.3)
