"""TaskService servicer: proto <-> domain, nothing else. Tasks belong to the caller's
organization: no X-Namespace is needed to read or kill them."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, override

from grpc import aio

from bucketd.server.api import convert, enums
from bucketd.server.api.auth import current_caller
from bucketd.server.domain.listing import pagination
from bucketd.server.domain.tasks import TaskRecord
from bucketd.server.services.tasks import Tasks
from bucketd.v1 import tasks_pb2 as pb
from bucketd.v1 import tasks_pb2_grpc

Context = aio.ServicerContext[Any, Any]


def task_message(record: TaskRecord) -> pb.Task:
    """The public docs' TaskResponse: inputs and outputs are lists, here of one object each
    (outputs empty until the task has some)."""
    return pb.Task(
        task_id=record.task_id,
        task_type=record.task_type,
        status=convert.status(record.status),
        inputs=[convert.value(record.inputs)],
        outputs=[convert.value(record.outputs)] if record.outputs else [],
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
        return pb.KillTaskResponse(
            task=task_message(record),
            success=True,
            message=f"Task '{record.task_id}' is {record.status}.",
        )

    @override
    async def ListTasks(
        self, request: pb.ListTasksRequest, context: Context
    ) -> pb.ListTasksResponse:
        query = convert.list_query(request)
        shorthand: dict[str, Any] = {}
        if request.status:
            shorthand["status"] = enums.spelling(enums.TASK_STATUS, request.status)
        if request.HasField("task_type"):
            shorthand["task_type"] = request.task_type
        if shorthand:  # the body's status and task_type narrow its filters
            query = replace(query, filters={"AND": [f for f in (query.filters, shorthand) if f]})
        found, total, page = await self._tasks.page(current_caller().principal, query)
        return pb.ListTasksResponse(
            results=[task_message(record) for record in found],
            total_count=total,
            pagination=convert.pagination(pagination(page, total=total, returned=len(found))),
        )
