"""Client: AsyncClient for synchronous code. Each method of AsyncClient is available with the
same arguments and answers, run to completion on the Client's own event loop."""

from __future__ import annotations

import asyncio
import functools
import inspect
from typing import Any

from bucketd.client.async_client import AsyncClient


class Client:
    """`with Client(api_key=…) as client: client.upload_file("photos", "cat.png")`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._runner = asyncio.Runner()
        self._client: AsyncClient = self._runner.run(_open(*args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute

        @functools.wraps(attribute)
        def run(*args: Any, **kwargs: Any) -> Any:
            return self._runner.run(attribute(*args, **kwargs))

        return run

    def close(self) -> None:
        self._runner.run(self._client.close())
        self._runner.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


async def _open(*args: Any, **kwargs: Any) -> AsyncClient:
    return AsyncClient(*args, **kwargs)  # its channel belongs to the runner's loop
