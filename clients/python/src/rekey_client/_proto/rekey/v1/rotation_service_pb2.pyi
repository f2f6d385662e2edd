import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RotationEventStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROTATION_EVENT_STATUS_UNSPECIFIED: _ClassVar[RotationEventStatus]
    ROTATION_EVENT_STATUS_PENDING: _ClassVar[RotationEventStatus]
    ROTATION_EVENT_STATUS_IN_PROGRESS: _ClassVar[RotationEventStatus]
    ROTATION_EVENT_STATUS_COMPLETED: _ClassVar[RotationEventStatus]
    ROTATION_EVENT_STATUS_FAILED: _ClassVar[RotationEventStatus]
    ROTATION_EVENT_STATUS_ROLLED_BACK: _ClassVar[RotationEventStatus]

class RotationTrigger(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROTATION_TRIGGER_UNSPECIFIED: _ClassVar[RotationTrigger]
    ROTATION_TRIGGER_SCHEDULED: _ClassVar[RotationTrigger]
    ROTATION_TRIGGER_MANUAL: _ClassVar[RotationTrigger]
    ROTATION_TRIGGER_EMERGENCY: _ClassVar[RotationTrigger]
    ROTATION_TRIGGER_ROLLBACK: _ClassVar[RotationTrigger]
ROTATION_EVENT_STATUS_UNSPECIFIED: RotationEventStatus
ROTATION_EVENT_STATUS_PENDING: RotationEventStatus
ROTATION_EVENT_STATUS_IN_PROGRESS: RotationEventStatus
ROTATION_EVENT_STATUS_COMPLETED: RotationEventStatus
ROTATION_EVENT_STATUS_FAILED: RotationEventStatus
ROTATION_EVENT_STATUS_ROLLED_BACK: RotationEventStatus
ROTATION_TRIGGER_UNSPECIFIED: RotationTrigger
ROTATION_TRIGGER_SCHEDULED: RotationTrigger
ROTATION_TRIGGER_MANUAL: RotationTrigger
ROTATION_TRIGGER_EMERGENCY: RotationTrigger
ROTATION_TRIGGER_ROLLBACK: RotationTrigger

class GetImpactRequest(_message.Message):
    __slots__ = ("key_name",)
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    key_name: str
    def __init__(self, key_name: _Optional[str] = ...) -> None: ...

class GetImpactResponse(_message.Message):
    __slots__ = ("key_name", "primary_version", "versions", "targets", "records_to_migrate")
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    RECORDS_TO_MIGRATE_FIELD_NUMBER: _ClassVar[int]
    key_name: str
    primary_version: int
    versions: _containers.RepeatedCompositeFieldContainer[VersionImpact]
    targets: _containers.RepeatedCompositeFieldContainer[TargetImpact]
    records_to_migrate: int
    def __init__(self, key_name: _Optional[str] = ..., primary_version: _Optional[int] = ..., versions: _Optional[_Iterable[_Union[VersionImpact, _Mapping]]] = ..., targets: _Optional[_Iterable[_Union[TargetImpact, _Mapping]]] = ..., records_to_migrate: _Optional[int] = ...) -> None: ...

class VersionImpact(_message.Message):
    __slots__ = ("version", "records")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    version: int
    records: int
    def __init__(self, version: _Optional[int] = ..., records: _Optional[int] = ...) -> None: ...

class TargetImpact(_message.Message):
    __slots__ = ("target", "versions", "unreadable")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    UNREADABLE_FIELD_NUMBER: _ClassVar[int]
    target: str
    versions: _containers.RepeatedCompositeFieldContainer[VersionImpact]
    unreadable: int
    def __init__(self, target: _Optional[str] = ..., versions: _Optional[_Iterable[_Union[VersionImpact, _Mapping]]] = ..., unreadable: _Optional[int] = ...) -> None: ...

class ScheduleRotationRequest(_message.Message):
    __slots__ = ("key_name", "force")
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    key_name: str
    force: bool
    def __init__(self, key_name: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class ScheduleRotationResponse(_message.Message):
    __slots__ = ("rotated", "event", "reason")
    ROTATED_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    rotated: bool
    event: RotationEvent
    reason: str
    def __init__(self, rotated: _Optional[bool] = ..., event: _Optional[_Union[RotationEvent, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class GetScheduleRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetScheduleResponse(_message.Message):
    __slots__ = ("keys", "scheduler_enabled", "cron", "next_run")
    KEYS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULER_ENABLED_FIELD_NUMBER: _ClassVar[int]
    CRON_FIELD_NUMBER: _ClassVar[int]
    NEXT_RUN_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[KeySchedule]
    scheduler_enabled: bool
    cron: str
    next_run: _timestamp_pb2.Timestamp
    def __init__(self, keys: _Optional[_Iterable[_Union[KeySchedule, _Mapping]]] = ..., scheduler_enabled: _Optional[bool] = ..., cron: _Optional[str] = ..., next_run: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class KeySchedule(_message.Message):
    __slots__ = ("key_name", "primary_version", "last_rotation", "next_rotation_due", "rotation_interval", "grace_period", "due")
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_VERSION_FIELD_NUMBER: _ClassVar[int]
    LAST_ROTATION_FIELD_NUMBER: _ClassVar[int]
    NEXT_ROTATION_DUE_FIELD_NUMBER: _ClassVar[int]
    ROTATION_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    GRACE_PERIOD_FIELD_NUMBER: _ClassVar[int]
    DUE_FIELD_NUMBER: _ClassVar[int]
    key_name: str
    primary_version: int
    last_rotation: _timestamp_pb2.Timestamp
    next_rotation_due: _timestamp_pb2.Timestamp
    rotation_interval: _duration_pb2.Duration
    grace_period: _duration_pb2.Duration
    due: bool
    def __init__(self, key_name: _Optional[str] = ..., primary_version: _Optional[int] = ..., last_rotation: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., next_rotation_due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., rotation_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., grace_period: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., due: _Optional[bool] = ...) -> None: ...

class GetEventRequest(_message.Message):
    __slots__ = ("event_id",)
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    def __init__(self, event_id: _Optional[str] = ...) -> None: ...

class GetEventResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: RotationEvent
    def __init__(self, event: _Optional[_Union[RotationEvent, _Mapping]] = ...) -> None: ...

class ListEventsRequest(_message.Message):
    __slots__ = ("key_name", "status", "limit")
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    key_name: str
    status: RotationEventStatus
    limit: int
    def __init__(self, key_name: _Optional[str] = ..., status: _Optional[_Union[RotationEventStatus, str]] = ..., limit: _Optional[int] = ...) -> None: ...

class ListEventsResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[RotationEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[RotationEvent, _Mapping]]] = ...) -> None: ...

class ExecuteEventRequest(_message.Message):
    __slots__ = ("event_id", "batch_size")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    batch_size: int
    def __init__(self, event_id: _Optional[str] = ..., batch_size: _Optional[int] = ...) -> None: ...

class ExecuteEventResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: RotationEvent
    def __init__(self, event: _Optional[_Union[RotationEvent, _Mapping]] = ...) -> None: ...

class RetryEventRequest(_message.Message):
    __slots__ = ("event_id",)
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    def __init__(self, event_id: _Optional[str] = ...) -> None: ...

class RetryEventResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: RotationEvent
    def __init__(self, event: _Optional[_Union[RotationEvent, _Mapping]] = ...) -> None: ...

class RollbackEventRequest(_message.Message):
    __slots__ = ("event_id",)
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    def __init__(self, event_id: _Optional[str] = ...) -> None: ...

class RollbackEventResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: RotationEvent
    def __init__(self, event: _Optional[_Union[RotationEvent, _Mapping]] = ...) -> None: ...

class RotationEvent(_message.Message):
    __slots__ = ("event_id", "key_name", "from_version", "to_version", "trigger", "actor", "status", "rolling_back", "created_at", "started_at", "finished_at", "batch_size", "rate_limit", "records_per_second", "last_error", "targets", "totals", "work_records_per_second")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TO_VERSION_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ROLLING_BACK_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    RECORDS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    WORK_RECORDS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    key_name: str
    from_version: int
    to_version: int
    trigger: RotationTrigger
    actor: str
    status: RotationEventStatus
    rolling_back: bool
    created_at: _timestamp_pb2.Timestamp
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    batch_size: int
    rate_limit: int
    records_per_second: float
    last_error: str
    targets: _containers.RepeatedCompositeFieldContainer[TargetProgress]
    totals: MigrationCounts
    work_records_per_second: float
    def __init__(self, event_id: _Optional[str] = ..., key_name: _Optional[str] = ..., from_version: _Optional[int] = ..., to_version: _Optional[int] = ..., trigger: _Optional[_Union[RotationTrigger, str]] = ..., actor: _Optional[str] = ..., status: _Optional[_Union[RotationEventStatus, str]] = ..., rolling_back: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., batch_size: _Optional[int] = ..., rate_limit: _Optional[int] = ..., records_per_second: _Optional[float] = ..., last_error: _Optional[str] = ..., targets: _Optional[_Iterable[_Union[TargetProgress, _Mapping]]] = ..., totals: _Optional[_Union[MigrationCounts, _Mapping]] = ..., work_records_per_second: _Optional[float] = ...) -> None: ...

class TargetProgress(_message.Message):
    __slots__ = ("target", "counts", "checkpoint", "done", "failed_ids")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    FAILED_IDS_FIELD_NUMBER: _ClassVar[int]
    target: str
    counts: MigrationCounts
    checkpoint: str
    done: bool
    failed_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, target: _Optional[str] = ..., counts: _Optional[_Union[MigrationCounts, _Mapping]] = ..., checkpoint: _Optional[str] = ..., done: _Optional[bool] = ..., failed_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class MigrationCounts(_message.Message):
    __slots__ = ("total", "migrated", "already_current", "skipped", "failed")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    MIGRATED_FIELD_NUMBER: _ClassVar[int]
    ALREADY_CURRENT_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    total: int
    migrated: int
    already_current: int
    skipped: int
    failed: int
    def __init__(self, total: _Optional[int] = ..., migrated: _Optional[int] = ..., already_current: _Optional[int] = ..., skipped: _Optional[int] = ..., failed: _Optional[int] = ...) -> None: ...
