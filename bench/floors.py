"""What the pieces bucketd is built from cost on their own, on this machine: the floors under
bench/upload.py's CPU-seconds per GiB.

- hashing: SHA-256 and CRC32C of every byte (hashlib, crc32c), on bytes already in cache;
- gRPC receive: a bare grpcio asyncio server (no interceptor, no protobuf: the messages stay
  bytes; malloc set as `bucketd serve` sets it, bucketd/heap.py) that receives the same chunk
  messages and drops them, in its own process;
- loopback send: a bare asyncio stream writing the bytes to a socket whose reader drops them
  (the part of sending to S3 that is the kernel's, here on the loopback as in the benchmark).

bucketd's gRPC route does all three, so their sum is the least it could cost; the difference
is what bucketd itself adds (protocol, part buffering, S3 requests).

    .venv/bin/python -m bench.floors [--mib 1024]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import grpc
from crc32c import CRC32CHash
from grpc import aio

from bucketd import heap

MIB = 1024 * 1024
GIB = 1024 * MIB
_METHOD = "/floor.Sink/Receive"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def hashing_floor() -> float:
    """CPU-seconds per GiB of SHA-256 + CRC32C over every byte, with the implementations
    bucketd uses (hashlib, crc32c)."""
    data = os.urandom(8 * MIB)
    sha256, crc32c = hashlib.sha256(), CRC32CHash()
    started = time.process_time()
    for _ in range(32):  # 256 MiB
        sha256.update(data)
        crc32c.update(data)
    return (time.process_time() - started) / (32 * 8 * MIB / GIB)


def _same(raw: bytes) -> bytes:
    return raw


async def _grpc_sink() -> None:
    """Serve _METHOD, dropping what it receives; print the port, then run until killed."""
    heap.keep_chunk_buffers()

    async def receive(requests: AsyncIterator[bytes], context: object) -> bytes:
        async for _ in requests:
            pass
        return b""

    handler = grpc.stream_unary_rpc_method_handler(
        receive, request_deserializer=_same, response_serializer=_same
    )
    service, method = _METHOD.rsplit("/", 1)
    server = aio.server(options=[("grpc.max_receive_message_length", 4 * MIB)])
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service.strip("/"), {method: handler}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(port, flush=True)
    await server.wait_for_termination()


def _socket_sink() -> None:
    """Accept one connection and drop what it sends; print the port first."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        print(listener.getsockname()[1], flush=True)
        connection, _ = listener.accept()
        buffer = bytearray(4 * MIB)
        while connection.recv_into(buffer):
            pass


def _start(role: str) -> tuple[subprocess.Popen[str], int]:
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.floors", "--sink", role], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    return child, int(child.stdout.readline())


def _chunks(chunk_bytes: int) -> list[bytes]:
    return [os.urandom(chunk_bytes) for _ in range(4)]


def grpc_receive_floor(mib: int, chunk_bytes: int) -> float:
    """CPU-seconds per GiB of the bare grpcio server receiving `mib` MiB in chunk messages."""
    child, port = _start("grpc")
    data = _chunks(chunk_bytes)

    async def send() -> None:
        async def messages() -> AsyncIterator[bytes]:
            for index in range(mib * MIB // chunk_bytes):
                yield data[index % len(data)]

        options = [("grpc.max_send_message_length", 4 * MIB)]
        async with aio.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
            call = channel.stream_unary(
                _METHOD, request_serializer=_same, response_deserializer=_same
            )
            await call(messages())

    try:
        before = cpu_seconds(child.pid)
        asyncio.run(send())
        return (cpu_seconds(child.pid) - before) / (mib * MIB / GIB)
    finally:
        child.kill()
        child.wait()


def loopback_send_floor(mib: int, chunk_bytes: int) -> float:
    """CPU-seconds per GiB of an asyncio stream writing `mib` MiB to a socket on the loopback."""
    child, port = _start("socket")
    data = _chunks(chunk_bytes)

    async def send() -> float:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.process_time()
        for index in range(mib * MIB // chunk_bytes):
            writer.write(memoryview(data[index % len(data)]))
            await writer.drain()
        spent = time.process_time() - started
        writer.close()
        await writer.wait_closed()
        return spent

    try:
        return asyncio.run(send()) / (mib * MIB / GIB)
    finally:
        child.kill()
        child.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--mib", type=int, default=1024, help="bytes per measurement, in MiB")
    parser.add_argument("--sink", choices=("grpc", "socket"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink == "grpc":
        asyncio.run(_grpc_sink())
    elif args.sink == "socket":
        _socket_sink()
    else:
        print(f"hashing (SHA-256 + CRC32C)      {hashing_floor():5.2f} CPU-s/GiB")
        for chunk_mib in (1, 2):
            floor = grpc_receive_floor(args.mib, chunk_mib * MIB)
            print(f"gRPC receive, {chunk_mib} MiB messages    {floor:5.2f} CPU-s/GiB")
        floor = loopback_send_floor(args.mib, MIB)
        print(f"loopback send, 1 MiB writes     {floor:5.2f} CPU-s/GiB")


if __name__ == "__main__":
    main()
