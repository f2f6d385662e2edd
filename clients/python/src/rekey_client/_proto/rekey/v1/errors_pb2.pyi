from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor

class ErrorReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_REASON_UNSPECIFIED: _ClassVar[ErrorReason]
    ERROR_REASON_INVALID_ARGUMENT: _ClassVar[ErrorReason]
    ERROR_REASON_KEY_NOT_FOUND: _ClassVar[ErrorReason]
    ERROR_REASON_VERSION_NOT_FOUND: _ClassVar[ErrorReason]
    ERROR_REASON_VERSION_RETIRED: _ClassVar[ErrorReason]
    ERROR_REASON_WRONG_PURPOSE: _ClassVar[ErrorReason]
    ERROR_REASON_INVALID_VALUE: _ClassVar[ErrorReason]
    ERROR_REASON_AUTHENTICATION_FAILED: _ClassVar[ErrorReason]
    ERROR_REASON_TOO_LARGE: _ClassVar[ErrorReason]
    ERROR_REASON_ROTATION_REFUSED: _ClassVar[ErrorReason]
    ERROR_REASON_EVENT_NOT_FOUND: _ClassVar[ErrorReason]
    ERROR_REASON_EVENT_STATE: _ClassVar[ErrorReason]
    ERROR_REASON_TOKEN_NOT_FOUND: _ClassVar[ErrorReason]
    ERROR_REASON_UNAUTHENTICATED: _ClassVar[ErrorReason]
    ERROR_REASON_PERMISSION_DENIED: _ClassVar[ErrorReason]
    ERROR_REASON_RATE_LIMITED: _ClassVar[ErrorReason]
    ERROR_REASON_UNAVAILABLE: _ClassVar[ErrorReason]
    ERROR_REASON_INTERNAL: _ClassVar[ErrorReason]
ERROR_REASON_UNSPECIFIED: ErrorReason
ERROR_REASON_INVALID_ARGUMENT: ErrorReason
ERROR_REASON_KEY_NOT_FOUND: ErrorReason
ERROR_REASON_VERSION_NOT_FOUND: ErrorReason
ERROR_REASON_VERSION_RETIRED: ErrorReason
ERROR_REASON_WRONG_PURPOSE: ErrorReason
ERROR_REASON_INVALID_VALUE: ErrorReason
ERROR_REASON_AUTHENTICATION_FAILED: ErrorReason
ERROR_REASON_TOO_LARGE: ErrorReason
ERROR_REASON_ROTATION_REFUSED: ErrorReason
ERROR_REASON_EVENT_NOT_FOUND: ErrorReason
ERROR_REASON_EVENT_STATE: ErrorReason
ERROR_REASON_TOKEN_NOT_FOUND: ErrorReason
ERROR_REASON_UNAUTHENTICATED: ErrorReason
ERROR_REASON_PERMISSION_DENIED: ErrorReason
ERROR_REASON_RATE_LIMITED: ErrorReason
ERROR_REASON_UNAVAILABLE: ErrorReason
ERROR_REASON_INTERNAL: ErrorReason
