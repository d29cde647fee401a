"""Typed views of the gateway's answers and of the stream's events.

Each class is built from the JSON the gateway sends by `from_json`, which tolerates missing fields
(an older gateway, or the original project, sends fewer) and keeps the whole answer in `raw` so a
field added later is still reachable.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, List, Mapping, Optional, Union

from .errors import KernelError

__all__ = [
    "Image", "Output", "KernelException", "ExecutionResult", "StdoutEvent", "StderrEvent",
    "DisplayEvent", "ErrorEvent", "ResultEvent", "StreamEvent", "FileInfo", "FileEntry",
    "UrlDownload", "UrlUpload", "UrlTransferResult", "Health", "PoolStatus",
]

# Image types the gateway sends base64-encoded; SVG comes as text and is kept as its UTF-8 bytes.
_BINARY_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp")
_TEXT_IMAGE_TYPES = ("image/svg+xml",)


def _decode_base64(value: Any) -> Optional[bytes]:
    if isinstance(value, list):  # Jupyter allows a multi-line value split into a list of strings
        value = "".join(value)
    if not isinstance(value, str):
        return None
    try:
        # Line breaks inside the base64 are allowed (some kernels add them); anything else that
        # is not base64 means the value is not an image we can decode.
        decoded = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    return decoded or None


@dataclass(frozen=True)
class Image:
    """An image the code displayed: its MIME type and decoded bytes (PNG, JPEG, ... or SVG text)."""

    mime_type: str
    data: bytes = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.data)

    def save(self, path: str) -> None:
        with open(path, "wb") as f:
            f.write(self.data)


@dataclass(frozen=True)
class Output:
    """One rich output: a display (`display_data`) or the value of the cell's last expression
    (`execute_result`), as a MIME bundle."""

    type: str
    data: Dict[str, Any]
    metadata: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> "Output":
        return cls(type=str(value.get("type", "display_data")), data=dict(value.get("data") or {}),
                   metadata=dict(value.get("metadata") or {}))

    @property
    def text(self) -> Optional[str]:
        """The plain-text form, when the bundle has one."""
        text = self.data.get("text/plain")
        return "".join(text) if isinstance(text, list) else text

    @property
    def images(self) -> List[Image]:
        images = []
        for mime in _BINARY_IMAGE_TYPES:
            decoded = _decode_base64(self.data.get(mime))
            if decoded is not None:
                images.append(Image(mime, decoded))
        for mime in _TEXT_IMAGE_TYPES:
            text = self.data.get(mime)
            if isinstance(text, list):
                text = "".join(text)
            if isinstance(text, str):
                images.append(Image(mime, text.encode("utf-8")))
        return images


@dataclass(frozen=True)
class KernelException:
    """The exception the user's code raised (tracebacks come without colour codes)."""

    ename: str
    evalue: str
    traceback: List[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> "KernelException":
        return cls(ename=str(value.get("ename", "")), evalue=str(value.get("evalue", "")),
                   traceback=[str(line) for line in value.get("traceback") or []])

    @property
    def traceback_text(self) -> str:
        return "\n".join(self.traceback)


@dataclass(frozen=True)
class ExecutionResult:
    """What one run produced. An exception in the code is a normal result with `error` set."""

    stdout: str = ""
    stderr: str = ""
    outputs: List[Output] = field(default_factory=list, repr=False)
    error: Optional[KernelException] = None
    execution_count: int = 0
    duration_ms: int = 0
    truncated: bool = False
    new_session: bool = False
    previous_session: Optional[str] = None
    # The original project's fields: all output as one text, and the last PNG as base64.
    result_text: Optional[str] = None
    result_base64: Optional[str] = field(default=None, repr=False)
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> "ExecutionResult":
        error = value.get("error")
        return cls(
            stdout=value.get("stdout") or "",
            stderr=value.get("stderr") or "",
            outputs=[Output.from_json(o) for o in value.get("outputs") or [] if isinstance(o, Mapping)],
            error=KernelException.from_json(error) if isinstance(error, Mapping) else None,
            execution_count=int(value.get("execution_count") or 0),
            duration_ms=int(value.get("duration_ms") or 0),
            truncated=bool(value.get("truncated", False)),
            new_session=bool(value.get("new_session", False)),
            previous_session=value.get("previous_session"),
            result_text=value.get("result_text"),
            result_base64=value.get("result_base64"),
            raw=dict(value),
        )

    @property
    def ok(self) -> bool:
        """True when the code ran to its end without raising."""
        return self.error is None

    @property
    def text(self) -> str:
        """All output as one text, as the original project gives it ("" when none)."""
        return self.result_text or ""

    @property
    def value(self) -> Optional[str]:
        """The plain-text value of the cell's last expression, if it had one."""
        for output in self.outputs:
            if output.type == "execute_result":
                return output.text
        return None

    @property
    def images(self) -> List[Image]:
        """Every image in the outputs, in order, decoded. Falls back on `result_base64` for a
        gateway that sends only the original project's fields."""
        images = [image for output in self.outputs for image in output.images]
        if not images and self.result_base64:
            decoded = _decode_base64(self.result_base64)
            if decoded is not None:
                images.append(Image("image/png", decoded))
        return images

    @property
    def png(self) -> Optional[bytes]:
        """The first PNG image's bytes, or None."""
        return next((image.data for image in self.images if image.mime_type == "image/png"), None)

    def raise_for_error(self) -> "ExecutionResult":
        """Raises KernelError when the code raised; returns self otherwise, for chaining."""
        if self.error is not None:
            raise KernelError(self)
        return self


# ----- stream events -------------------------------------------------------------------------

@dataclass(frozen=True)
class StdoutEvent:
    """A piece of stdout, as the code wrote it."""
    kind: ClassVar[str] = "stdout"
    text: str


@dataclass(frozen=True)
class StderrEvent:
    """A piece of stderr."""
    kind: ClassVar[str] = "stderr"
    text: str


@dataclass(frozen=True)
class DisplayEvent:
    """A rich output (a plot, a value, HTML...)."""
    kind: ClassVar[str] = "display"
    output: Output

    @property
    def images(self) -> List[Image]:
        return self.output.images


@dataclass(frozen=True)
class ErrorEvent:
    """The code raised; the stream goes on to its ResultEvent."""
    kind: ClassVar[str] = "error"
    error: KernelException


@dataclass(frozen=True)
class ResultEvent:
    """The last event: everything the execution produced."""
    kind: ClassVar[str] = "result"
    result: ExecutionResult


StreamEvent = Union[StdoutEvent, StderrEvent, DisplayEvent, ErrorEvent, ResultEvent]


# ----- files -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class FileInfo:
    """An uploaded file: where it landed and its size."""

    path: str
    size: int
    new_session: bool = False
    previous_session: Optional[str] = None

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> "FileInfo":
        return cls(path=str(value.get("path", "")), size=int(value.get("size") or 0),
                   new_session=bool(value.get("new_session", False)),
                   previous_session=value.get("previous_session"))


@dataclass(frozen=True)
class FileEntry:
    """One entry of a directory listing; `type` is file, directory, symlink or other."""

    name: str
    type: str
    size: int = 0
    modified_unix_ms: int = 0

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> "FileEntry":
        return cls(name=str(value.get("name", "")), type=str(value.get("type", "other")),
                   size=int(value.get("size") or 0), modified_unix_ms=int(value.get("modified_unix_ms") or 0))

    @property
    def is_dir(self) -> bool:
        return self.type == "directory"


@dataclass(frozen=True)
class UrlDownload:
    """A file the gateway fetches from `url` (a presigned GET URL) into the workspace as
    `path`/`name`; `path` is a directory such as "/sandbox/data/"."""

    url: str
    name: str
    path: str = "/sandbox/"

    def to_json(self) -> Dict[str, Any]:
        return {"download_url": self.url, "path": self.path, "name": self.name}


@dataclass(frozen=True)
class UrlUpload:
    """A workspace file (`path`/`name`) the gateway sends to `url`: a PUT, or with `fields` (a
    presigned POST's form fields) a multipart POST."""

    url: str
    name: str
    path: str = "/sandbox/"
    fields: Optional[Dict[str, str]] = None

    def to_json(self) -> Dict[str, Any]:
        entry: Dict[str, Any] = {"upload_url": self.url, "path": self.path, "name": self.name}
        if self.fields is not None:
            entry["upload_fields"] = dict(self.fields)
        return entry


@dataclass(frozen=True)
class UrlTransferResult:
    """The answer of a transfer by URL. `results` lists the files that moved (`full_path`, `size`
    for downloads; `path`, `name`, `size` for uploads). A partial failure raises instead; the
    exception's `body["failed"]` says what happened to each file."""

    success: bool
    results: List[Dict[str, Any]]
    new_session: bool = False
    previous_session: Optional[str] = None

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> "UrlTransferResult":
        return cls(success=bool(value.get("success", False)), results=list(value.get("results") or []),
                   new_session=bool(value.get("new_session", False)),
                   previous_session=value.get("previous_session"))


# ----- the gateway -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Health:
    status: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class PoolStatus:
    """The pool and its sessions (admin only). Nested objects stay dictionaries: operators read
    them, programs rarely branch on them."""

    total_workers: int = 0
    idle_workers: int = 0
    busy_workers: int = 0
    creating_workers: int = 0
    destroying_workers: int = 0
    sessions: int = 0
    running_executions: int = 0
    queued_executions: int = 0
    idle_target: int = 0
    is_initializing: bool = False
    last_worker_error: Optional[str] = None
    condition: Dict[str, Any] = field(default_factory=dict)
    limits: Dict[str, Any] = field(default_factory=dict)
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> "PoolStatus":
        def count(key: str) -> int:
            return int(value.get(key) or 0)
        return cls(total_workers=count("total_workers"), idle_workers=count("idle_workers"),
                   busy_workers=count("busy_workers"), creating_workers=count("creating_workers"),
                   destroying_workers=count("destroying_workers"), sessions=count("sessions"),
                   running_executions=count("running_executions"), queued_executions=count("queued_executions"),
                   idle_target=count("idle_target"), is_initializing=bool(value.get("is_initializing", False)),
                   last_worker_error=value.get("last_worker_error"), condition=dict(value.get("condition") or {}),
                   limits=dict(value.get("limits") or {}), raw=dict(value))
