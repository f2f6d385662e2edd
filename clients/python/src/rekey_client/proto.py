"""The generated request and response messages and enums of `rekey.v1`, as the client's methods
take and return them (`from rekey_client import proto; proto.EncryptRequest(...)`)."""

from ._proto.rekey.v1.admin_service_pb2 import *  # noqa: F403
from ._proto.rekey.v1.errors_pb2 import *  # noqa: F403
from ._proto.rekey.v1.key_service_pb2 import *  # noqa: F403
from ._proto.rekey.v1.rotation_service_pb2 import *  # noqa: F403
