import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from rekey_client._proto.rekey.v1 import errors_pb2 as _errors_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class KeyPurpose(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KEY_PURPOSE_UNSPECIFIED: _ClassVar[KeyPurpose]
    KEY_PURPOSE_ENCRYPT_DECRYPT: _ClassVar[KeyPurpose]
    KEY_PURPOSE_SIGN_VERIFY: _ClassVar[KeyPurpose]

class KeyVersionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KEY_VERSION_STATE_UNSPECIFIED: _ClassVar[KeyVersionState]
    KEY_VERSION_STATE_ACTIVE: _ClassVar[KeyVersionState]
    KEY_VERSION_STATE_DEPRECATED: _ClassVar[KeyVersionState]
    KEY_VERSION_STATE_RETIRED: _ClassVar[KeyVersionState]

class AlertLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_LEVEL_UNSPECIFIED: _ClassVar[AlertLevel]
    ALERT_LEVEL_OK: _ClassVar[AlertLevel]
    ALERT_LEVEL_WARNING: _ClassVar[AlertLevel]
    ALERT_LEVEL_CRITICAL: _ClassVar[AlertLevel]
KEY_PURPOSE_UNSPECIFIED: KeyPurpose
KEY_PURPOSE_ENCRYPT_DECRYPT: KeyPurpose
KEY_PURPOSE_SIGN_VERIFY: KeyPurpose
KEY_VERSION_STATE_UNSPECIFIED: KeyVersionState
KEY_VERSION_STATE_ACTIVE: KeyVersionState
KEY_VERSION_STATE_DEPRECATED: KeyVersionState
KEY_VERSION_STATE_RETIRED: KeyVersionState
ALERT_LEVEL_UNSPECIFIED: AlertLevel
ALERT_LEVEL_OK: AlertLevel
ALERT_LEVEL_WARNING: AlertLevel
ALERT_LEVEL_CRITICAL: AlertLevel

class EncryptRequest(_message.Message):
    __slots__ = ("key_name", "plaintext", "associated_data")
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    PLAINTEXT_FIELD_NUMBER: _ClassVar[int]
    ASSOCIATED_DATA_FIELD_NUMBER: _ClassVar[int]
    key_name: str
    plaintext: bytes
    associated_data: bytes
    def __init__(self, key_name: _Optional[str] = ..., plaintext: _Optional[bytes] = ..., associated_data: _Optional[bytes] = ...) -> None: ...

class EncryptResponse(_message.Message):
    __slots__ = ("ciphertext", "key_version")
    CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    KEY_VERSION_FIELD_NUMBER: _ClassVar[int]
    ciphertext: bytes
    key_version: int
    def __init__(self, ciphertext: _Optional[bytes] = ..., key_version: _Optional[int] = ...) -> None: ...

class EncryptBatchRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[EncryptRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[EncryptRequest, _Mapping]]] = ...) -> None: ...

class EncryptBatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[EncryptBatchResult]
    def __init__(self, results: _Optional[_Iterable[_Union[EncryptBatchResult, _Mapping]]] = ...) -> None: ...

class EncryptBatchResult(_message.Message):
    __slots__ = ("response", "error")
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    response: EncryptResponse
    error: _errors_pb2.ItemError
    def __init__(self, response: _Optional[_Union[EncryptResponse, _Mapping]] = ..., error: _Optional[_Union[_errors_pb2.ItemError, _Mapping]] = ...) -> None: ...

class DecryptBatchRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[DecryptRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[DecryptRequest, _Mapping]]] = ...) -> None: ...

class DecryptBatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[DecryptBatchResult]
    def __init__(self, results: _Optional[_Iterable[_Union[DecryptBatchResult, _Mapping]]] = ...) -> None: ...

class DecryptBatchResult(_message.Message):
    __slots__ = ("response", "error")
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    response: DecryptResponse
    error: _errors_pb2.ItemError
    def __init__(self, response: _Optional[_Union[DecryptResponse, _Mapping]] = ..., error: _Optional[_Union[_errors_pb2.ItemError, _Mapping]] = ...) -> None: ...

class RewrapBatchRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[RewrapRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[RewrapRequest, _Mapping]]] = ...) -> None: ...

class RewrapBatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[RewrapBatchResult]
    def __init__(self, results: _Optional[_Iterable[_Union[RewrapBatchResult, _Mapping]]] = ...) -> None: ...

class RewrapBatchResult(_message.Message):
    __slots__ = ("response", "error")
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    response: RewrapResponse
    error: _errors_pb2.ItemError
    def __init__(self, response: _Optional[_Union[RewrapResponse, _Mapping]] = ..., error: _Optional[_Union[_errors_pb2.ItemError, _Mapping]] = ...) -> None: ...

class EncryptStreamRequest(_message.Message):
    __slots__ = ("key_name", "associated_data", "segment_size", "chunk")
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    ASSOCIATED_DATA_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_SIZE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    key_name: str
    associated_data: bytes
    segment_size: int
    chunk: bytes
    def __init__(self, key_name: _Optional[str] = ..., associated_data: _Optional[bytes] = ..., segment_size: _Optional[int] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class EncryptStreamResponse(_message.Message):
    __slots__ = ("chunk", "key_version")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    KEY_VERSION_FIELD_NUMBER: _ClassVar[int]
    chunk: bytes
    key_version: int
    def __init__(self, chunk: _Optional[bytes] = ..., key_version: _Optional[int] = ...) -> None: ...

class DecryptStreamRequest(_message.Message):
    __slots__ = ("associated_data", "chunk")
    ASSOCIATED_DATA_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    associated_data: bytes
    chunk: bytes
    def __init__(self, associated_data: _Optional[bytes] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class DecryptStreamResponse(_message.Message):
    __slots__ = ("chunk", "key_name", "key_version")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    KEY_VERSION_FIELD_NUMBER: _ClassVar[int]
    chunk: bytes
    key_name: str
    key_version: int
    def __init__(self, chunk: _Optional[bytes] = ..., key_name: _Optional[str] = ..., key_version: _Optional[int] = ...) -> None: ...

class DecryptRequest(_message.Message):
    __slots__ = ("ciphertext", "associated_data", "key_name")
    CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    ASSOCIATED_DATA_FIELD_NUMBER: _ClassVar[int]
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    ciphertext: bytes
    associated_data: bytes
    key_name: str
    def __init__(self, ciphertext: _Optional[bytes] = ..., associated_data: _Optional[bytes] = ..., key_name: _Optional[str] = ...) -> None: ...

class DecryptResponse(_message.Message):
    __slots__ = ("plaintext", "key_name", "key_version")
    PLAINTEXT_FIELD_NUMBER: _ClassVar[int]
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    KEY_VERSION_FIELD_NUMBER: _ClassVar[int]
    plaintext: bytes
    key_name: str
    key_version: int
    def __init__(self, plaintext: _Optional[bytes] = ..., key_name: _Optional[str] = ..., key_version: _Optional[int] = ...) -> None: ...

class GenerateDataKeyRequest(_message.Message):
    __slots__ = ("key_name", "associated_data")
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    ASSOCIATED_DATA_FIELD_NUMBER: _ClassVar[int]
    key_name: str
    associated_data: bytes
    def __init__(self, key_name: _Optional[str] = ..., associated_data: _Optional[bytes] = ...) -> None: ...

class GenerateDataKeyResponse(_message.Message):
    __slots__ = ("plaintext_key", "wrapped_key", "key_version")
    PLAINTEXT_KEY_FIELD_NUMBER: _ClassVar[int]
    WRAPPED_KEY_FIELD_NUMBER: _ClassVar[int]
    KEY_VERSION_FIELD_NUMBER: _ClassVar[int]
    plaintext_key: bytes
    wrapped_key: bytes
    key_version: int
    def __init__(self, plaintext_key: _Optional[bytes] = ..., wrapped_key: _Optional[bytes] = ..., key_version: _Optional[int] = ...) -> None: ...

class RewrapRequest(_message.Message):
    __slots__ = ("ciphertext", "associated_data")
    CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    ASSOCIATED_DATA_FIELD_NUMBER: _ClassVar[int]
    ciphertext: bytes
    associated_data: bytes
    def __init__(self, ciphertext: _Optional[bytes] = ..., associated_data: _Optional[bytes] = ...) -> None: ...

class RewrapResponse(_message.Message):
    __slots__ = ("ciphertext", "key_version")
    CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    KEY_VERSION_FIELD_NUMBER: _ClassVar[int]
    ciphertext: bytes
    key_version: int
    def __init__(self, ciphertext: _Optional[bytes] = ..., key_version: _Optional[int] = ...) -> None: ...

class SignRequest(_message.Message):
    __slots__ = ("key_name", "message")
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    key_name: str
    message: bytes
    def __init__(self, key_name: _Optional[str] = ..., message: _Optional[bytes] = ...) -> None: ...

class SignResponse(_message.Message):
    __slots__ = ("signature", "key_version")
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    KEY_VERSION_FIELD_NUMBER: _ClassVar[int]
    signature: bytes
    key_version: int
    def __init__(self, signature: _Optional[bytes] = ..., key_version: _Optional[int] = ...) -> None: ...

class VerifyRequest(_message.Message):
    __slots__ = ("message", "signature")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    message: bytes
    signature: bytes
    def __init__(self, message: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class VerifyResponse(_message.Message):
    __slots__ = ("valid", "key_name", "key_version")
    VALID_FIELD_NUMBER: _ClassVar[int]
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    KEY_VERSION_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    key_name: str
    key_version: int
    def __init__(self, valid: _Optional[bool] = ..., key_name: _Optional[str] = ..., key_version: _Optional[int] = ...) -> None: ...

class RotateRequest(_message.Message):
    __slots__ = ("key_name", "force")
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    key_name: str
    force: bool
    def __init__(self, key_name: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class RotateResponse(_message.Message):
    __slots__ = ("key_name", "new_version", "previous_version", "event_id")
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    NEW_VERSION_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_VERSION_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    key_name: str
    new_version: int
    previous_version: int
    event_id: str
    def __init__(self, key_name: _Optional[str] = ..., new_version: _Optional[int] = ..., previous_version: _Optional[int] = ..., event_id: _Optional[str] = ...) -> None: ...

class RollbackRequest(_message.Message):
    __slots__ = ("key_name",)
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    key_name: str
    def __init__(self, key_name: _Optional[str] = ...) -> None: ...

class RollbackResponse(_message.Message):
    __slots__ = ("key_name", "primary_version", "rolled_back_version", "event_id")
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_VERSION_FIELD_NUMBER: _ClassVar[int]
    ROLLED_BACK_VERSION_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    key_name: str
    primary_version: int
    rolled_back_version: int
    event_id: str
    def __init__(self, key_name: _Optional[str] = ..., primary_version: _Optional[int] = ..., rolled_back_version: _Optional[int] = ..., event_id: _Optional[str] = ...) -> None: ...

class GetStatusRequest(_message.Message):
    __slots__ = ("key_name",)
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    key_name: str
    def __init__(self, key_name: _Optional[str] = ...) -> None: ...

class GetStatusResponse(_message.Message):
    __slots__ = ("keys", "generated_at")
    KEYS_FIELD_NUMBER: _ClassVar[int]
    GENERATED_AT_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[KeyStatus]
    generated_at: _timestamp_pb2.Timestamp
    def __init__(self, keys: _Optional[_Iterable[_Union[KeyStatus, _Mapping]]] = ..., generated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class KeyPolicy(_message.Message):
    __slots__ = ("rotation_interval", "grace_period")
    ROTATION_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    GRACE_PERIOD_FIELD_NUMBER: _ClassVar[int]
    rotation_interval: _duration_pb2.Duration
    grace_period: _duration_pb2.Duration
    def __init__(self, rotation_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., grace_period: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class KeyStatus(_message.Message):
    __slots__ = ("key_name", "purpose", "algorithm", "policy", "primary_version", "versions", "primary_age", "next_rotation_due", "alert_level", "alert_reason")
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_AGE_FIELD_NUMBER: _ClassVar[int]
    NEXT_ROTATION_DUE_FIELD_NUMBER: _ClassVar[int]
    ALERT_LEVEL_FIELD_NUMBER: _ClassVar[int]
    ALERT_REASON_FIELD_NUMBER: _ClassVar[int]
    key_name: str
    purpose: KeyPurpose
    algorithm: str
    policy: KeyPolicy
    primary_version: int
    versions: _containers.RepeatedCompositeFieldContainer[KeyVersionStatus]
    primary_age: _duration_pb2.Duration
    next_rotation_due: _timestamp_pb2.Timestamp
    alert_level: AlertLevel
    alert_reason: str
    def __init__(self, key_name: _Optional[str] = ..., purpose: _Optional[_Union[KeyPurpose, str]] = ..., algorithm: _Optional[str] = ..., policy: _Optional[_Union[KeyPolicy, _Mapping]] = ..., primary_version: _Optional[int] = ..., versions: _Optional[_Iterable[_Union[KeyVersionStatus, _Mapping]]] = ..., primary_age: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., next_rotation_due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., alert_level: _Optional[_Union[AlertLevel, str]] = ..., alert_reason: _Optional[str] = ...) -> None: ...

class KeyVersionStatus(_message.Message):
    __slots__ = ("version", "state", "created_at", "deprecated_at", "retired_at", "check_value", "age")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DEPRECATED_AT_FIELD_NUMBER: _ClassVar[int]
    RETIRED_AT_FIELD_NUMBER: _ClassVar[int]
    CHECK_VALUE_FIELD_NUMBER: _ClassVar[int]
    AGE_FIELD_NUMBER: _ClassVar[int]
    version: int
    state: KeyVersionState
    created_at: _timestamp_pb2.Timestamp
    deprecated_at: _timestamp_pb2.Timestamp
    retired_at: _timestamp_pb2.Timestamp
    check_value: str
    age: _duration_pb2.Duration
    def __init__(self, version: _Optional[int] = ..., state: _Optional[_Union[KeyVersionState, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deprecated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., retired_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., check_value: _Optional[str] = ..., age: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...
