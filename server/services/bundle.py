"""The use cases the API serves, as one value (built by server/wiring.py)."""

from __future__ import annotations

from dataclasses import dataclass

from bucketd.server.services.admission import UploadSlots
from bucketd.server.services.api_keys import ApiKeyService
from bucketd.server.services.buckets import BucketService
from bucketd.server.services.deletions import Deletions
from bucketd.server.services.janitor import Janitor
from bucketd.server.services.namespaces import NamespaceService
from bucketd.server.services.object_reads import ObjectReads
from bucketd.server.services.objects import ObjectService
from bucketd.server.services.rate_limits import RateLimits
from bucketd.server.services.streams import StreamUploads
from bucketd.server.services.tasks import Tasks
from bucketd.server.services.upload_confirm import UploadConfirmations
from bucketd.server.services.uploads import UploadService


@dataclass(frozen=True)
class Services:
    api_keys: ApiKeyService
    namespaces: NamespaceService
    buckets: BucketService
    objects: ObjectService
    object_reads: ObjectReads
    deletions: Deletions
    uploads: UploadService
    confirmations: UploadConfirmations
    streams: StreamUploads
    tasks: Tasks
    janitor: Janitor
    upload_slots: UploadSlots
    rate_limits: RateLimits | None
