"""Exceptions, one class per failure reason the gateway documents (docs/api.md, "Errors").

The classes are grouped by what a caller does about them rather than by HTTP status alone:
`RequestError` means "change the request", `ServiceUnavailableError` means "retry later",
`SessionLostError` means "the kernel's state is gone, start over". A Python exception raised by
the user's code is not an error of the gateway: it comes back in `ExecutionResult.error`, and
only `ExecutionResult.raise_for_error()` turns it into a `KernelError`.
"""

from __future__ import annotations

import email.utils
import time
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Tuple, Type

if TYPE_CHECKING:  # models imports nothing from here at run time; avoid the cycle anyway
    from .models import ExecutionResult

__all__ = [
    "CodeInterpreterError", "ConnectionFailedError", "ProtocolError", "KernelError", "GatewayError",
    "RequestError", "BadRequestError", "InvalidPathError", "ValidationError", "UrlRefusedError",
    "AuthenticationError", "PermissionDeniedError", "NotFoundError", "MethodNotAllowedError",
    "PayloadTooLargeError", "ConflictError", "SessionReleasedError", "ExecutionInterruptedError",
    "FileConflictError", "QueueFullError", "StreamTooSlowError", "ServerError", "FileIOError",
    "InsufficientStorageError", "TransferError", "ServiceUnavailableError", "PoolExhaustedError",
    "BackendUnavailableError", "ShuttingDownError", "ExecutionTimeoutError", "SessionLostError",
    "KernelDiedError", "OutOfMemoryError", "WorkerLostError", "ProtocolViolationError",
    "error_from_answer", "error_from_event",
]


class CodeInterpreterError(Exception):
    """Base class of everything this package raises."""


class ConnectionFailedError(CodeInterpreterError):
    """The gateway could not be reached, or the connection broke or timed out mid-answer."""


class ProtocolError(CodeInterpreterError):
    """The gateway answered something the API does not promise (not JSON, a stream cut short)."""


class KernelError(CodeInterpreterError):
    """The user's code raised; raised only by `ExecutionResult.raise_for_error()`."""

    def __init__(self, result: "ExecutionResult") -> None:
        assert result.error is not None
        self.result = result
        self.ename = result.error.ename
        self.evalue = result.error.evalue
        self.traceback = result.error.traceback
        super().__init__("%s: %s" % (self.ename, self.evalue))


class GatewayError(CodeInterpreterError):
    """A non-2xx answer (or a stream's final error event).

    `reason` is the machine-readable code to branch on; `detail` is a sentence for people and may
    change between versions. `body` is the whole JSON error body, `headers` the answer's headers
    with lower-cased names (empty for an error that arrived inside an event stream).
    """

    def __init__(self, status: int, reason: str, detail: str, body: Optional[Dict[str, Any]] = None,
                 headers: Optional[Mapping[str, str]] = None) -> None:
        self.status = status
        self.reason = reason
        self.detail = detail
        self.body: Dict[str, Any] = dict(body or {})
        self.headers: Dict[str, str] = {k.lower(): v for k, v in (headers or {}).items()}
        super().__init__("HTTP %d %s: %s" % (status, reason or "-", detail))

    @property
    def session_kept(self) -> Optional[bool]:
        """For a failed execution: whether the kernel and its variables survived (None: not said)."""
        kept = self.body.get("session_kept")
        return kept if isinstance(kept, bool) else None

    @property
    def retry_after(self) -> Optional[float]:
        """Seconds the gateway asked us to wait (`Retry-After`, seconds or an HTTP date), or None."""
        return parse_retry_after(self.headers.get("retry-after"))


# ----- "change the request" -------------------------------------------------------------------

class RequestError(GatewayError):
    """A 4xx: retrying the same request will not help."""


class BadRequestError(RequestError):
    """400 bad_request: a malformed body or a missing or invalid field."""


class InvalidPathError(BadRequestError):
    """400 invalid_path: a path outside the workspace, through a symlink, or not a regular file."""


class ValidationError(BadRequestError):
    """422 validation_failed: the original project's routes refusing a malformed request."""


class UrlRefusedError(RequestError):
    """422 url_refused: a transfer URL leads to a private or internal address."""


class AuthenticationError(RequestError):
    """401 unauthorized: the token is missing or wrong."""


class PermissionDeniedError(RequestError):
    """403 forbidden: the user token on an admin route (/status, /metrics)."""


class NotFoundError(RequestError):
    """404 not_found: no session for this user, no such file, or no such route."""


class MethodNotAllowedError(RequestError):
    """405 method_not_allowed."""


class PayloadTooLargeError(RequestError):
    """413 payload_too_large (or 431 headers_too_large): send less; the detail names the limit."""


class ConflictError(RequestError):
    """A 409."""


class SessionReleasedError(ConflictError):
    """409 session_released: the session ended while this request waited or ran; its state is gone."""


class ExecutionInterruptedError(ConflictError):
    """409 interrupted: `Session.interrupt()` stopped the execution; the session and its variables
    are kept. `partial_result` holds the output produced before the interrupt."""

    @property
    def partial_result(self) -> "ExecutionResult":
        from .models import ExecutionResult  # late: models is the heavier module
        return ExecutionResult.from_json(self.body)


class FileConflictError(ConflictError):
    """409 file_exists, is_a_directory, not_a_directory or not_empty."""


class QueueFullError(RequestError):
    """429 queue_full: too many requests already wait for this session."""


class StreamTooSlowError(GatewayError):
    """408 client_too_slow: the stream was read too slowly and ended (the execution still finished)."""


# ----- the gateway's or the session's side ------------------------------------------------------

class ServerError(GatewayError):
    """A 5xx."""


class FileIOError(ServerError):
    """500 file_io: the worker's file system failed the operation."""


class InsufficientStorageError(ServerError):
    """507 insufficient_storage: the session's workspace is full."""


class TransferError(ServerError):
    """502 transfer_failed or 504 transfer_timeout: a transfer by URL failed at the remote end."""


class ServiceUnavailableError(ServerError):
    """A 503 worth retrying later as is."""


class PoolExhaustedError(ServiceUnavailableError):
    """503 pool_exhausted: every worker is in use; retried automatically after `Retry-After`."""


class BackendUnavailableError(ServiceUnavailableError):
    """503 backend_unavailable: workers cannot be created right now."""


class ShuttingDownError(ServiceUnavailableError):
    """503 shutting_down: the gateway is stopping."""


class ExecutionTimeoutError(ServerError):
    """503 timeout: the execution ran past the gateway's limit. `session_kept` says whether the
    kernel survived (interrupted) or was replaced (the next run reports `new_session`)."""


class SessionLostError(ServerError):
    """The session's worker is gone; the next call starts a fresh session."""


class KernelDiedError(SessionLostError):
    """503 kernel_died."""


class OutOfMemoryError(SessionLostError):
    """503 oom_killed: the worker hit its memory limit."""


class WorkerLostError(SessionLostError):
    """504 worker_lost."""


class ProtocolViolationError(SessionLostError):
    """502 protocol_violation: the worker broke the gateway's protocol and was destroyed."""


# reason -> (class, HTTP status). The status matters for errors that arrive as a stream's final
# event, which carry no status of their own.
_REASONS: Dict[str, Tuple[Type[GatewayError], int]] = {
    "bad_request": (BadRequestError, 400),
    "invalid_path": (InvalidPathError, 400),
    "unauthorized": (AuthenticationError, 401),
    "forbidden": (PermissionDeniedError, 403),
    "not_found": (NotFoundError, 404),
    "method_not_allowed": (MethodNotAllowedError, 405),
    "client_too_slow": (StreamTooSlowError, 408),
    "session_released": (SessionReleasedError, 409),
    "interrupted": (ExecutionInterruptedError, 409),
    "file_exists": (FileConflictError, 409),
    "is_a_directory": (FileConflictError, 409),
    "not_a_directory": (FileConflictError, 409),
    "not_empty": (FileConflictError, 409),
    "payload_too_large": (PayloadTooLargeError, 413),
    "validation_failed": (ValidationError, 422),
    "url_refused": (UrlRefusedError, 422),
    "queue_full": (QueueFullError, 429),
    "headers_too_large": (PayloadTooLargeError, 431),
    "internal": (ServerError, 500),
    "file_io": (FileIOError, 500),
    "transfer_failed": (TransferError, 502),
    "protocol_violation": (ProtocolViolationError, 502),
    "pool_exhausted": (PoolExhaustedError, 503),
    "backend_unavailable": (BackendUnavailableError, 503),
    "timeout": (ExecutionTimeoutError, 503),
    "kernel_died": (KernelDiedError, 503),
    "oom_killed": (OutOfMemoryError, 503),
    "shutting_down": (ShuttingDownError, 503),
    "worker_lost": (WorkerLostError, 504),
    "transfer_timeout": (TransferError, 504),
    "insufficient_storage": (InsufficientStorageError, 507),
}

# For answers without a known reason (a newer gateway, a proxy in front, the HTTP layer's plain
# 413): the closest class for the status.
_STATUSES: Dict[int, Type[GatewayError]] = {
    400: BadRequestError, 401: AuthenticationError, 403: PermissionDeniedError, 404: NotFoundError,
    405: MethodNotAllowedError, 409: ConflictError, 413: PayloadTooLargeError, 422: ValidationError,
    429: QueueFullError, 431: PayloadTooLargeError, 503: ServiceUnavailableError,
}


def _class_for(status: int, reason: str) -> Type[GatewayError]:
    if reason in _REASONS:
        return _REASONS[reason][0]
    if status in _STATUSES:
        return _STATUSES[status]
    if 400 <= status < 500:
        return RequestError
    if status >= 500:
        return ServerError
    return GatewayError


def error_from_answer(status: int, body: Any, headers: Optional[Mapping[str, str]] = None) -> GatewayError:
    """The exception for a non-2xx answer; body is its parsed JSON, or its text when not JSON."""
    if not isinstance(body, dict):
        body = {"detail": "" if body is None else str(body)}
    reason = str(body.get("reason") or "")
    detail = body.get("detail")
    # The original project answers a 422 with a list in detail; keep it readable.
    detail_text = detail if isinstance(detail, str) else ("" if detail is None else str(detail))
    return _class_for(status, reason)(status, reason, detail_text, body, headers)


def error_from_event(body: Dict[str, Any]) -> GatewayError:
    """The exception for a stream's final `error` event (one with a `reason`)."""
    reason = str(body.get("reason") or "")
    status = _REASONS[reason][1] if reason in _REASONS else 500
    return error_from_answer(status, body)


def parse_retry_after(value: Optional[str]) -> Optional[float]:
    """Retry-After as seconds from now: either delta-seconds or an HTTP date (RFC 9110)."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())
