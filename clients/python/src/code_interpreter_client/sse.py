"""A Server-Sent Events parser (the WHATWG event-stream format), fed line by line.

The gateway sends one `event:` line and one `data:` line per event, but the parser follows the
format in full (comments, multi-line data, CR/LF variants, fields without a value) so a proxy that
re-frames the stream does not break it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, List, Optional, Union

__all__ = ["ServerSentEvent", "parse_sse"]


@dataclass(frozen=True)
class ServerSentEvent:
    event: str
    data: str
    id: Optional[str] = None


def parse_sse(lines: Iterable[Union[bytes, str]]) -> Iterator[ServerSentEvent]:
    """Yields each complete event of the stream as its lines arrive.

    An event is dispatched at the blank line that ends it; one cut off by the end of the stream is
    dropped, as the format requires, so a caller never acts on half an event.
    """
    event = ""
    data: List[str] = []
    last_id: Optional[str] = None
    first = True
    for raw in lines:
        line = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        text = line[:-1] if line.endswith("\n") else line
        text = text[:-1] if text.endswith("\r") else text
        # Reading a response splits on "\n" only; a lone "\r" also ends a line in this format.
        for part in text.split("\r"):
            if first:
                part = part.lstrip("\ufeff")
                first = False
            if part == "":
                if data:
                    yield ServerSentEvent(event or "message", "\n".join(data), last_id)
                event, data = "", []
                continue
            if part.startswith(":"):
                continue  # a comment (keep-alive)
            name, colon, value = part.partition(":")
            if colon and value.startswith(" "):
                value = value[1:]
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
            elif name == "id" and "\0" not in value:
                last_id = value
            # "retry" and unknown fields: nothing for us to do.
