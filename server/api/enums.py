"""The enums the servicers convert, with their JSON spellings (bucketd.spellings)."""

from __future__ import annotations

from bucketd.spellings import numbers, spelling
from bucketd.v1 import buckets_pb2, common_pb2

__all__ = [
    "FIELD_TYPE",
    "SORT_DIRECTION",
    "TASK_STATUS",
    "UNIQUE_KEY_POLICY",
    "numbers",
    "spelling",
]

FIELD_TYPE = common_pb2.FieldType.DESCRIPTOR
TASK_STATUS = common_pb2.TaskStatus.DESCRIPTOR
SORT_DIRECTION = common_pb2.SortDirection.DESCRIPTOR
UNIQUE_KEY_POLICY = buckets_pb2.UniqueKeyPolicy.DESCRIPTOR
