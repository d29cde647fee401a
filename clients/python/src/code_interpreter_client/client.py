"""Client (one gateway, its tokens and HTTP settings) and Session (one user's kernel)."""

from __future__ import annotations

import base64
import json
import os
import uuid
from types import TracebackType
from typing import Any, BinaryIO, Dict, Iterable, Iterator, List, Optional, Tuple, Type, Union

from ._version import __version__
from ._http import Transport, lines_of, read_all
from .errors import (CodeInterpreterError, NotFoundError, PoolExhaustedError, ProtocolError, error_from_event)
from .models import (DisplayEvent, ErrorEvent, ExecutionResult, FileEntry, FileInfo, Health, KernelException,
                     Output, PoolStatus, ResultEvent, StderrEvent, StdoutEvent, StreamEvent, UrlDownload,
                     UrlTransferResult, UrlUpload)
from .sse import parse_sse

__all__ = ["Client", "Session"]

Data = Union[bytes, bytearray, memoryview, str, BinaryIO]


class Client:
    """A gateway and its credentials. Thread-safe: it holds no connection state, so one Client
    may serve many sessions and threads (an interrupt from another thread, for instance).

    timeout: seconds to wait for each answer (or each piece of a stream); keep it above the
        gateway's execution.timeout (120 s by default) or long runs end on our side first.
    retries: how many times a 503 pool_exhausted is retried, each after its Retry-After.
    max_retry_wait: the longest single wait between those retries, whatever Retry-After says.
    auth_header: the header that carries the token (plugins.auth-token.header).
    """

    def __init__(self, base_url: str, token: str, *, admin_token: Optional[str] = None, timeout: float = 300.0,
                 retries: int = 3, max_retry_wait: float = 30.0, auth_header: str = "X-Auth-Token") -> None:
        self._transport = Transport(base_url, token, timeout=timeout, retries=retries,
                                    max_retry_wait=max_retry_wait, auth_header=auth_header,
                                    user_agent="code-interpreter-client/" + __version__)
        self.admin_token = admin_token

    @classmethod
    def from_token_files(cls, base_url: str, token_file: str, admin_token_file: Optional[str] = None,
                         **kwargs: Any) -> "Client":
        """A client whose tokens are read from files (the gateway writes var/auth_token.txt and
        var/admin_token.txt), so they never appear on a command line."""
        admin = _read_token(admin_token_file) if admin_token_file else None
        return cls(base_url, _read_token(token_file), admin_token=admin, **kwargs)

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    def session(self, user_uuid: Optional[str] = None) -> "Session":
        """A handle on one user's session (a new random user unless given). Nothing is sent yet:
        the gateway starts the kernel at the first run or file operation."""
        return Session(self, user_uuid or str(uuid.uuid4()))

    def health(self) -> Health:
        """GET /api/v1/health (no token needed)."""
        return Health(status=str(self._transport.json("GET", "/api/v1/health").get("status", "")))

    def status(self) -> PoolStatus:
        """GET /api/v1/status: the pool and its sessions. Uses admin_token when given (the user
        token gets PermissionDeniedError)."""
        return PoolStatus.from_json(self._transport.json("GET", "/api/v1/status", token=self.admin_token))

    def metrics(self) -> str:
        """GET /metrics: Prometheus text (admin)."""
        response = self._transport.open("GET", "/metrics", token=self.admin_token, accept="text/plain")
        with response:
            return read_all(response).decode("utf-8")


class Session:
    """One user's persistent kernel. Variables, imports and workspace files live until release().

    As a context manager it releases the session on exit, so a script never leaves a worker busy
    until the gateway's idle timeout.
    """

    def __init__(self, client: Client, user_uuid: str) -> None:
        self.client = client
        self.user_uuid = user_uuid
        self._http = client._transport

    def __repr__(self) -> str:
        return "Session(user_uuid=%r)" % self.user_uuid

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        try:
            self.release()
        except CodeInterpreterError:
            if exc_type is None:
                raise
            # The block already failed: its exception is the one worth seeing.

    # ----- execution -------------------------------------------------------------------------

    def run(self, code: str, store_history: Optional[bool] = None) -> ExecutionResult:
        """Runs code as one cell and returns what it produced. An exception raised by the code is
        a normal result (`result.error`); gateway failures raise GatewayError subclasses."""
        answer = self._http.json("POST", "/api/v1/execute", body=self._execute_body(code, store_history))
        return ExecutionResult.from_json(answer)

    def stream(self, code: str, store_history: Optional[bool] = None) -> Iterator[StreamEvent]:
        """Runs code and yields its output as it happens: StdoutEvent, StderrEvent, DisplayEvent,
        ErrorEvent (the code raised), and last a ResultEvent with the whole result. A failed
        execution (timeout, interrupt, lost worker...) raises from its final error event.

        Breaking out of the loop closes the connection; the execution itself still runs to its
        end on the gateway (interrupt() stops it).
        """
        body = self._execute_body(code, store_history)
        attempt = 0
        while True:
            response = self._http.open("POST", "/api/v1/execute/stream", body=body, accept="text/event-stream")
            yielded = False
            retry_error = None
            with response:
                for sse in parse_sse(lines_of(response)):
                    try:
                        data = json.loads(sse.data)
                    except ValueError as e:
                        raise ProtocolError("event %r carries no JSON: %r" % (sse.event, sse.data[:200])) from e
                    if sse.event == "error" and isinstance(data, dict) and "reason" in data:
                        error = error_from_event(data)
                        # Refused before it ran (nothing yielded yet): as safe to retry as a 503 answer.
                        if isinstance(error, PoolExhaustedError) and not yielded and attempt < self._http.retries:
                            retry_error = error
                            break
                        raise error
                    event = _event_of(sse.event, data)
                    if event is None:
                        continue  # an event type this client does not know yet
                    yielded = True
                    yield event
                    if isinstance(event, ResultEvent):
                        return
            if retry_error is None:
                raise ProtocolError("the stream ended before its result")
            attempt += 1
            self._http.sleep(self._http.retry_delay(retry_error))

    def interrupt(self) -> bool:
        """Interrupts the running execution (a KeyboardInterrupt in the kernel); the variables are
        kept, and the interrupted run raises ExecutionInterruptedError. True when something was
        running; False when nothing was (or the user has no session)."""
        try:
            answer = self._http.json("POST", "/api/v1/interrupt", body={"user_uuid": self.user_uuid})
        except NotFoundError:
            return False
        return bool(answer.get("interrupted", False))

    def release(self) -> bool:
        """Ends the session: kernel, variables and files are destroyed; the next call starts a
        fresh one. True when a session was released, False when there was none."""
        try:
            self._http.json("POST", "/api/v1/release", body={"user_uuid": self.user_uuid})
        except NotFoundError:
            return False
        return True

    # ----- files in the workspace (/sandbox, the kernel's working directory) ------------------

    def upload(self, path: str, data: Data, *, overwrite: bool = True, multipart: bool = False) -> FileInfo:
        """Writes data at path (relative to the workspace, or under /sandbox/); parent
        directories are made. str is sent as UTF-8; a binary file object is read whole.
        multipart sends a multipart/form-data form instead of the raw bytes (same result)."""
        content = _bytes_of(data)
        if multipart:
            form_body, content_type = _multipart(
                [("user_uuid", self.user_uuid), ("path", path), ("overwrite", "true" if overwrite else "false")],
                filename=path.rsplit("/", 1)[-1] or "file", content=content)
            answer = self._http.json("POST", "/api/v1/files", body=form_body, content_type=content_type)
        else:
            answer = self._http.json("POST", "/api/v1/files", body=content, content_type="application/octet-stream",
                                     query={"user_uuid": self.user_uuid, "path": path, "overwrite": overwrite})
        return FileInfo.from_json(answer)

    def upload_file(self, local_path: str, path: Optional[str] = None, *, overwrite: bool = True) -> FileInfo:
        """Uploads a local file, to `path` or to its own name at the workspace's top."""
        with open(local_path, "rb") as f:
            return self.upload(path or os.path.basename(local_path), f, overwrite=overwrite)

    def download(self, path: str) -> bytes:
        """The file's exact bytes (GET /api/v1/files)."""
        response = self._http.open("GET", "/api/v1/files", query={"user_uuid": self.user_uuid, "path": path},
                                   accept="application/octet-stream")
        with response:
            return read_all(response)

    def download_file(self, path: str, local_path: str) -> int:
        """Downloads path into local_path; returns the byte count."""
        content = self.download(path)
        with open(local_path, "wb") as f:
            f.write(content)
        return len(content)

    def export(self, path: str) -> bytes:
        """The same bytes as download(), through the JSON route (POST /api/v1/files/export)."""
        answer = self._http.json("POST", "/api/v1/files/export", body={"user_uuid": self.user_uuid, "path": path})
        try:
            return base64.b64decode(answer["data_base64"])
        except (KeyError, TypeError, ValueError) as e:
            raise ProtocolError("export answered no valid data_base64") from e

    def list_files(self, path: str = ".") -> List[FileEntry]:
        """A directory's entries, sorted by name; symlinks are listed, never followed."""
        answer = self._http.json("GET", "/api/v1/files/list", query={"user_uuid": self.user_uuid, "path": path})
        return [FileEntry.from_json(entry) for entry in answer.get("entries") or []]

    def delete(self, path: str, *, recursive: bool = False) -> None:
        """Deletes a file, or with recursive=True a directory and everything in it."""
        self._http.json("DELETE", "/api/v1/files",
                        query={"user_uuid": self.user_uuid, "path": path, "recursive": recursive})

    # ----- the original project's transfer by presigned URL ---------------------------------

    def download_from_urls(self, files: Iterable[UrlDownload]) -> UrlTransferResult:
        """The gateway GETs each URL into the workspace (1 to 100 files, in parallel). URLs must
        lead to public addresses unless the operator allowed the host (url_refused otherwise)."""
        return self._url_transfer("/api/v1/files", files)

    def upload_to_urls(self, files: Iterable[UrlUpload]) -> UrlTransferResult:
        """The gateway sends workspace files to URLs: a PUT each, or a presigned POST form."""
        return self._url_transfer("/api/v1/files/export", files)

    def _url_transfer(self, route: str, files: Iterable[Union[UrlDownload, UrlUpload]]) -> UrlTransferResult:
        # user_uuid goes in the query, as the original project's clients send it: a "files" array
        # is what tells these requests apart from the upload and export of our own forms.
        answer = self._http.json("POST", route, query={"user_uuid": self.user_uuid},
                                 body={"files": [f.to_json() for f in files]})
        return UrlTransferResult.from_json(answer)

    def _execute_body(self, code: str, store_history: Optional[bool]) -> Dict[str, Any]:
        body: Dict[str, Any] = {"user_uuid": self.user_uuid, "code": code}
        if store_history is not None:
            body["store_history"] = store_history
        return body


def _event_of(name: str, data: Any) -> Optional[StreamEvent]:
    if not isinstance(data, dict):
        return None
    if name == "stdout":
        return StdoutEvent(str(data.get("text", "")))
    if name == "stderr":
        return StderrEvent(str(data.get("text", "")))
    if name == "display":
        return DisplayEvent(Output.from_json(data))
    if name == "error":
        return ErrorEvent(KernelException.from_json(data))
    if name == "result":
        return ResultEvent(ExecutionResult.from_json(data))
    return None


def _bytes_of(data: Data) -> bytes:
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    return data.read()


def _multipart(fields: List[Tuple[str, str]], filename: str, content: bytes) -> Tuple[bytes, str]:
    """A multipart/form-data body: the text fields, then the file as the part named "file"."""
    boundary = "ci-" + uuid.uuid4().hex
    parts = []
    for name, value in fields:
        parts.append(('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
                      % (boundary, name, value)).encode("utf-8"))
    quoted = filename.replace("\\", "\\\\").replace('"', '\\"')
    parts.append(('--%s\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\n'
                  'Content-Type: application/octet-stream\r\n\r\n' % (boundary, quoted)).encode("utf-8"))
    parts.append(content)
    parts.append(("\r\n--%s--\r\n" % boundary).encode("ascii"))
    return b"".join(parts), "multipart/form-data; boundary=" + boundary


def _read_token(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read().strip()
