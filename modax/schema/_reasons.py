"""Machine-readable reasons a message is rejected, and the error that carries one."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["MessageError", "Reason"]


class Reason(StrEnum):
    """Why a message went to quarantine (``quarantine.reason``) or a command was rejected."""

    EMPTY_PAYLOAD = "empty_payload"
    OVERSIZED = "oversized"
    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    BAD_LENGTH = "bad_length"
    NEGATIVE_TIMESTAMP = "negative_timestamp"
    NEGATIVE_SEQ = "negative_seq"
    INVALID_DEVICE_ID = "invalid_device_id"
    DEVICE_ID_MISMATCH = "device_id_mismatch"
    NON_FINITE = "non_finite"
    OUT_OF_RANGE = "out_of_range"
    UNKNOWN_TOPIC = "unknown_topic"
    TOO_DEEP = "too_deep"
    TIMESTAMP_IN_FUTURE = "timestamp_in_future"
    UNKNOWN_COMMAND = "unknown_command"
    UNKNOWN_VALUE = "unknown_value"
    UNSUPPORTED_COMMAND = "unsupported_command"
    INTERNAL_ERROR = "internal_error"


class MessageError(ValueError):
    """A message that breaks the contract, with the reason and the field it names.

    Examples
    --------
    >>> err = MessageError(Reason.OUT_OF_RANGE, "motor_currents[0]", "150.0 A is beyond ±100 A")
    >>> str(err)
    'out_of_range: motor_currents[0]: 150.0 A is beyond ±100 A'
    """

    def __init__(self, reason: Reason, field: str | None, detail: str) -> None:
        super().__init__(reason, field, detail)
        self.reason = reason
        self.field = field
        self.detail = detail

    def __str__(self) -> str:
        """``reason: field: detail``, formatted only when shown (rejecting stays cheap)."""
        where = f"{self.field}: " if self.field else ""
        return f"{self.reason.value}: {where}{self.detail}"
