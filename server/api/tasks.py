"""TaskService servicer: proto <-> domain, nothing else. Tasks belong to the caller's
organization: no X-Namespace is needed to read or kill them."""

from __future__ import annotations

from typing import Any, override

from grpc import aio

from bucketd.server.api import convert
from bucketd.server.api.auth import current_caller
from bucketd.server.domain.listing import pagination
from bucketd.server.domain.tasks import TaskRecord
from bucketd.server.services.tasks import Tasks
from bucketd.v1 import tasks_pb2 as pb
from bucketd.v1 import tasks_pb2_grpc

Context = aio.ServicerContext[Any, Any]


def task_message(record: TaskRecord) -> pb.Task:
    return pb.Task(
        task_id=record.task_id,
        task_type=record.task_type,
        status=convert.status(record.status),
        inputs=convert.struct(record.inputs),
        outputs=convert.struct(record.outputs),
        additional_data=convert.struct(record.additional_data),
        error=record.error,
        namespace_id=record.namespace_id,
        created_at=convert.timestamp(record.created_at),
        updated_at=convert.timestamp(record.updated_at),
    )


class TaskServicer(tasks_pb2_grpc.TaskServiceServicer):
    def __init__(self, tasks: Tasks) -> None:
        self._tasks = tasks

    @override
    async def GetTask(self, request: pb.GetTaskRequest, context: Context) -> pb.GetTaskResponse:
        record = await self._tasks.get(current_caller().principal, request.task_id)
        return pb.GetTaskResponse(task=task_message(record))

    @override
    async def KillTask(self, request: pb.KillTaskRequest, context: Context) -> pb.KillTaskResponse:
        record = await self._tasks.kill(current_caller().principal, request.task_id)
        return pb.KillTaskResponse(task=task_message(record))

    @override
    async def ListTasks(
        self, request: pb.ListTasksRequest, context: Context
    ) -> pb.ListTasksResponse:
        found, total, page = await self._tasks.page(
            current_caller().principal, convert.list_query(request)
        )
        return pb.ListTasksResponse(
            results=[task_message(record) for record in found],
            total_count=total,
            pagination=convert.pagination(pagination(page, total=total, returned=len(found))),
        )
