"""Fetch statuses, mirroring the constants of ``edgeserve_ros/msg/Payload``."""

import enum

#: Longest stream, topic or node name accepted (a FetchPayload request, a parameter).
MAX_NAME_LENGTH = 255


class FetchStatus(enum.IntEnum):
    """Why a payload is, or is not, returned by a fetch."""

    OK = 0
    EXPIRED = 1
    UNKNOWN = 2
    TOO_LARGE = 3
    BAD_REQUEST = 4
    #: client side only: no answer within the timeout after all retries
    TIMEOUT = 100
    #: client side only: the bytes received do not match the header's checksum (XXH3-64)
    CORRUPT = 101
    #: client side only: the source's fetch service is not available
    UNREACHABLE = 102
