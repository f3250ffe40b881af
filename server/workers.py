"""`bucketd serve --workers N`: N server processes on the same ports, supervised.

The supervisor starts the stand-ins (when MongoDB or S3 is not configured) once, then N
workers: each a full `bucketd serve` with its own event loop, binding the gRPC and HTTP ports
with SO_REUSEPORT so that the kernel spreads connections over them. A worker that dies is
started again; SIGTERM (or SIGINT) is forwarded to every worker, which drains as a single
bucketd does, and the supervisor waits for them. A worker dies with its supervisor, however
the supervisor dies (PR_SET_PDEATHSIG). Metrics are gathered across workers through
prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR).
"""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType

from prometheus_client import multiprocess

log = logging.getLogger("bucketd.workers")

RESTART_PAUSE_SECONDS = 1.0
EXIT_MARGIN_SECONDS = 5.0
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask Linux to send this process SIGTERM when its parent dies (no-op elsewhere)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Supervisor:
    def __init__(self, worker_argv: Sequence[str], count: int, env: dict[str, str]) -> None:
        self._argv = list(worker_argv)
        self._count = count
        self._env = env
        self._stopping = False
        self._workers: dict[int, subprocess.Popen[bytes]] = {}

    def _spawn(self, index: int) -> subprocess.Popen[bytes]:
        argv = [*self._argv, "--worker-index", str(index)]
        # Worker 0 alone prints the addresses (and the stand-in key): one set of lines.
        stdout = None if index == 0 else subprocess.DEVNULL
        return subprocess.Popen(argv, env=self._env, stdout=stdout)

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True

    def run(self, grace: float) -> int:
        """Supervise until SIGTERM/SIGINT; then drain every worker. Exit status 2 if a worker
        cannot start (it exits 2: a taken port, a bad setting)."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._stop)
        self._workers = {index: self._spawn(index) for index in range(self._count)}
        try:
            return self._supervise()
        finally:
            self._drain(grace)

    def _supervise(self) -> int:
        status = 0
        while not self._stopping:
            for index, worker in list(self._workers.items()):
                code = worker.poll()
                if code is None:
                    continue
                multiprocess.mark_process_dead(  # type: ignore[no-untyped-call]
                    worker.pid, self._env.get("PROMETHEUS_MULTIPROC_DIR")
                )
                if code == 2:
                    log.error("worker %d cannot start (exit status 2): stopping", index)
                    self._stopping, status = True, 2
                    break
                log.warning(
                    "worker %d (pid %d) exited with %s: restarting it", index, worker.pid, code
                )
                time.sleep(RESTART_PAUSE_SECONDS)
                self._workers[index] = self._spawn(index)
            time.sleep(0.1)
        return status

    def _drain(self, grace: float) -> None:
        for worker in self._workers.values():
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace + EXIT_MARGIN_SECONDS
        for worker in self._workers.values():
            try:
                worker.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker pid %d outlived the grace period: killing it", worker.pid)
                worker.kill()
                worker.wait()
