import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from rekey_client._proto.rekey.v1 import key_service_pb2 as _key_service_pb2
from rekey_client._proto.rekey.v1 import rotation_service_pb2 as _rotation_service_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReportKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPORT_KIND_UNSPECIFIED: _ClassVar[ReportKind]
    REPORT_KIND_POST_ROTATION: _ClassVar[ReportKind]
    REPORT_KIND_WEEKLY: _ClassVar[ReportKind]
    REPORT_KIND_MONTHLY: _ClassVar[ReportKind]
    REPORT_KIND_QUARTERLY: _ClassVar[ReportKind]

class TokenRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TOKEN_ROLE_UNSPECIFIED: _ClassVar[TokenRole]
    TOKEN_ROLE_ADMIN: _ClassVar[TokenRole]
    TOKEN_ROLE_CLIENT: _ClassVar[TokenRole]
REPORT_KIND_UNSPECIFIED: ReportKind
REPORT_KIND_POST_ROTATION: ReportKind
REPORT_KIND_WEEKLY: ReportKind
REPORT_KIND_MONTHLY: ReportKind
REPORT_KIND_QUARTERLY: ReportKind
TOKEN_ROLE_UNSPECIFIED: TokenRole
TOKEN_ROLE_ADMIN: TokenRole
TOKEN_ROLE_CLIENT: TokenRole

class GetReportRequest(_message.Message):
    __slots__ = ("kind", "start_time", "end_time")
    KIND_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    kind: ReportKind
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, kind: _Optional[_Union[ReportKind, str]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetReportResponse(_message.Message):
    __slots__ = ("kind", "start_time", "end_time", "generated_at", "post_rotation", "weekly", "monthly", "quarterly")
    KIND_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    GENERATED_AT_FIELD_NUMBER: _ClassVar[int]
    POST_ROTATION_FIELD_NUMBER: _ClassVar[int]
    WEEKLY_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_FIELD_NUMBER: _ClassVar[int]
    QUARTERLY_FIELD_NUMBER: _ClassVar[int]
    kind: ReportKind
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    generated_at: _timestamp_pb2.Timestamp
    post_rotation: PostRotationReport
    weekly: WeeklyReport
    monthly: MonthlyReport
    quarterly: QuarterlyReport
    def __init__(self, kind: _Optional[_Union[ReportKind, str]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., generated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., post_rotation: _Optional[_Union[PostRotationReport, _Mapping]] = ..., weekly: _Optional[_Union[WeeklyReport, _Mapping]] = ..., monthly: _Optional[_Union[MonthlyReport, _Mapping]] = ..., quarterly: _Optional[_Union[QuarterlyReport, _Mapping]] = ...) -> None: ...

class PostRotationReport(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[ReportEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[ReportEvent, _Mapping]]] = ...) -> None: ...

class ReportEvent(_message.Message):
    __slots__ = ("event_id", "key_name", "from_version", "to_version", "trigger", "actor", "status", "created_at", "finished_at", "duration", "records", "records_per_second", "last_error", "failed_ids")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TO_VERSION_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    RECORDS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    FAILED_IDS_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    key_name: str
    from_version: int
    to_version: int
    trigger: _rotation_service_pb2.RotationTrigger
    actor: str
    status: _rotation_service_pb2.RotationEventStatus
    created_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    duration: _duration_pb2.Duration
    records: _rotation_service_pb2.MigrationCounts
    records_per_second: float
    last_error: str
    failed_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, event_id: _Optional[str] = ..., key_name: _Optional[str] = ..., from_version: _Optional[int] = ..., to_version: _Optional[int] = ..., trigger: _Optional[_Union[_rotation_service_pb2.RotationTrigger, str]] = ..., actor: _Optional[str] = ..., status: _Optional[_Union[_rotation_service_pb2.RotationEventStatus, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., records: _Optional[_Union[_rotation_service_pb2.MigrationCounts, _Mapping]] = ..., records_per_second: _Optional[float] = ..., last_error: _Optional[str] = ..., failed_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class WeeklyReport(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[WeeklyKeyReport]
    def __init__(self, keys: _Optional[_Iterable[_Union[WeeklyKeyReport, _Mapping]]] = ...) -> None: ...

class WeeklyKeyReport(_message.Message):
    __slots__ = ("key_name", "primary_version", "primary_age", "next_rotation_due", "alert_level", "alert_reason", "versions", "rotations_in_period")
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_VERSION_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_AGE_FIELD_NUMBER: _ClassVar[int]
    NEXT_ROTATION_DUE_FIELD_NUMBER: _ClassVar[int]
    ALERT_LEVEL_FIELD_NUMBER: _ClassVar[int]
    ALERT_REASON_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    ROTATIONS_IN_PERIOD_FIELD_NUMBER: _ClassVar[int]
    key_name: str
    primary_version: int
    primary_age: _duration_pb2.Duration
    next_rotation_due: _timestamp_pb2.Timestamp
    alert_level: _key_service_pb2.AlertLevel
    alert_reason: str
    versions: _containers.RepeatedCompositeFieldContainer[ReportVersionState]
    rotations_in_period: int
    def __init__(self, key_name: _Optional[str] = ..., primary_version: _Optional[int] = ..., primary_age: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., next_rotation_due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., alert_level: _Optional[_Union[_key_service_pb2.AlertLevel, str]] = ..., alert_reason: _Optional[str] = ..., versions: _Optional[_Iterable[_Union[ReportVersionState, _Mapping]]] = ..., rotations_in_period: _Optional[int] = ...) -> None: ...

class ReportVersionState(_message.Message):
    __slots__ = ("version", "state")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    version: int
    state: _key_service_pb2.KeyVersionState
    def __init__(self, version: _Optional[int] = ..., state: _Optional[_Union[_key_service_pb2.KeyVersionState, str]] = ...) -> None: ...

class MonthlyReport(_message.Message):
    __slots__ = ("rotations", "finished", "completed", "failed", "rolled_back", "success_rate", "records_migrated", "records_per_second", "record_error_rate", "events")
    ROTATIONS_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    ROLLED_BACK_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    RECORDS_MIGRATED_FIELD_NUMBER: _ClassVar[int]
    RECORDS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    RECORD_ERROR_RATE_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    rotations: int
    finished: int
    completed: int
    failed: int
    rolled_back: int
    success_rate: float
    records_migrated: int
    records_per_second: float
    record_error_rate: float
    events: _containers.RepeatedCompositeFieldContainer[ReportEvent]
    def __init__(self, rotations: _Optional[int] = ..., finished: _Optional[int] = ..., completed: _Optional[int] = ..., failed: _Optional[int] = ..., rolled_back: _Optional[int] = ..., success_rate: _Optional[float] = ..., records_migrated: _Optional[int] = ..., records_per_second: _Optional[float] = ..., record_error_rate: _Optional[float] = ..., events: _Optional[_Iterable[_Union[ReportEvent, _Mapping]]] = ...) -> None: ...

class QuarterlyReport(_message.Message):
    __slots__ = ("standards", "keys")
    STANDARDS_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    standards: _containers.RepeatedScalarFieldContainer[str]
    keys: _containers.RepeatedCompositeFieldContainer[QuarterlyKeyReport]
    def __init__(self, standards: _Optional[_Iterable[str]] = ..., keys: _Optional[_Iterable[_Union[QuarterlyKeyReport, _Mapping]]] = ...) -> None: ...

class QuarterlyKeyReport(_message.Message):
    __slots__ = ("key_name", "purpose", "policy", "rotations", "overdue_periods", "versions_in_use_past_grace", "compliant")
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    ROTATIONS_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_PERIODS_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_IN_USE_PAST_GRACE_FIELD_NUMBER: _ClassVar[int]
    COMPLIANT_FIELD_NUMBER: _ClassVar[int]
    key_name: str
    purpose: _key_service_pb2.KeyPurpose
    policy: _key_service_pb2.KeyPolicy
    rotations: _containers.RepeatedCompositeFieldContainer[ReportEvent]
    overdue_periods: _containers.RepeatedCompositeFieldContainer[OverduePeriod]
    versions_in_use_past_grace: _containers.RepeatedCompositeFieldContainer[VersionPastGrace]
    compliant: bool
    def __init__(self, key_name: _Optional[str] = ..., purpose: _Optional[_Union[_key_service_pb2.KeyPurpose, str]] = ..., policy: _Optional[_Union[_key_service_pb2.KeyPolicy, _Mapping]] = ..., rotations: _Optional[_Iterable[_Union[ReportEvent, _Mapping]]] = ..., overdue_periods: _Optional[_Iterable[_Union[OverduePeriod, _Mapping]]] = ..., versions_in_use_past_grace: _Optional[_Iterable[_Union[VersionPastGrace, _Mapping]]] = ..., compliant: _Optional[bool] = ...) -> None: ...

class OverduePeriod(_message.Message):
    __slots__ = ("start_time", "end_time", "duration")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    duration: _duration_pb2.Duration
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class VersionPastGrace(_message.Message):
    __slots__ = ("version", "records")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    version: int
    records: int
    def __init__(self, version: _Optional[int] = ..., records: _Optional[int] = ...) -> None: ...

class ListAuditRequest(_message.Message):
    __slots__ = ("start_time", "end_time", "key_name", "principal", "operation", "limit", "after_seq")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    key_name: str
    principal: str
    operation: str
    limit: int
    after_seq: int
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., key_name: _Optional[str] = ..., principal: _Optional[str] = ..., operation: _Optional[str] = ..., limit: _Optional[int] = ..., after_seq: _Optional[int] = ...) -> None: ...

class ListAuditResponse(_message.Message):
    __slots__ = ("records",)
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[AuditRecord]
    def __init__(self, records: _Optional[_Iterable[_Union[AuditRecord, _Mapping]]] = ...) -> None: ...

class AuditRecord(_message.Message):
    __slots__ = ("seq", "at", "principal", "operation", "key_name", "key_version", "outcome", "records", "detail", "request_id", "prev_hash", "hash", "event_id")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    KEY_VERSION_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PREV_HASH_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    seq: int
    at: _timestamp_pb2.Timestamp
    principal: str
    operation: str
    key_name: str
    key_version: int
    outcome: str
    records: int
    detail: str
    request_id: str
    prev_hash: str
    hash: str
    event_id: str
    def __init__(self, seq: _Optional[int] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., principal: _Optional[str] = ..., operation: _Optional[str] = ..., key_name: _Optional[str] = ..., key_version: _Optional[int] = ..., outcome: _Optional[str] = ..., records: _Optional[int] = ..., detail: _Optional[str] = ..., request_id: _Optional[str] = ..., prev_hash: _Optional[str] = ..., hash: _Optional[str] = ..., event_id: _Optional[str] = ...) -> None: ...

class VerifyAuditRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VerifyAuditResponse(_message.Message):
    __slots__ = ("rows", "intact", "first_fault", "fault_seq", "head_hash")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    INTACT_FIELD_NUMBER: _ClassVar[int]
    FIRST_FAULT_FIELD_NUMBER: _ClassVar[int]
    FAULT_SEQ_FIELD_NUMBER: _ClassVar[int]
    HEAD_HASH_FIELD_NUMBER: _ClassVar[int]
    rows: int
    intact: bool
    first_fault: str
    fault_seq: int
    head_hash: str
    def __init__(self, rows: _Optional[int] = ..., intact: _Optional[bool] = ..., first_fault: _Optional[str] = ..., fault_seq: _Optional[int] = ..., head_hash: _Optional[str] = ...) -> None: ...

class CreateTokenRequest(_message.Message):
    __slots__ = ("name", "role", "key_names", "operations", "expires_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    KEY_NAMES_FIELD_NUMBER: _ClassVar[int]
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    role: TokenRole
    key_names: _containers.RepeatedScalarFieldContainer[str]
    operations: _containers.RepeatedScalarFieldContainer[str]
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., role: _Optional[_Union[TokenRole, str]] = ..., key_names: _Optional[_Iterable[str]] = ..., operations: _Optional[_Iterable[str]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateTokenResponse(_message.Message):
    __slots__ = ("token", "info")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    token: str
    info: TokenInfo
    def __init__(self, token: _Optional[str] = ..., info: _Optional[_Union[TokenInfo, _Mapping]] = ...) -> None: ...

class ListTokensRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListTokensResponse(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[TokenInfo]
    def __init__(self, tokens: _Optional[_Iterable[_Union[TokenInfo, _Mapping]]] = ...) -> None: ...

class RevokeTokenRequest(_message.Message):
    __slots__ = ("token_id",)
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    def __init__(self, token_id: _Optional[str] = ...) -> None: ...

class RevokeTokenResponse(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: TokenInfo
    def __init__(self, token: _Optional[_Union[TokenInfo, _Mapping]] = ...) -> None: ...

class TokenInfo(_message.Message):
    __slots__ = ("token_id", "name", "role", "key_names", "operations", "created_at", "created_by", "expires_at", "revoked_at")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    KEY_NAMES_FIELD_NUMBER: _ClassVar[int]
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    name: str
    role: TokenRole
    key_names: _containers.RepeatedScalarFieldContainer[str]
    operations: _containers.RepeatedScalarFieldContainer[str]
    created_at: _timestamp_pb2.Timestamp
    created_by: str
    expires_at: _timestamp_pb2.Timestamp
    revoked_at: _timestamp_pb2.Timestamp
    def __init__(self, token_id: _Optional[str] = ..., name: _Optional[str] = ..., role: _Optional[_Union[TokenRole, str]] = ..., key_names: _Optional[_Iterable[str]] = ..., operations: _Optional[_Iterable[str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_by: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
