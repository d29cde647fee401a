"""HTTP with urllib: the token header, error mapping, and bounded retries of pool_exhausted."""

from __future__ import annotations

import http.client
import json
import platform
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Dict, Iterator, Mapping, Optional

from .errors import (ConnectionFailedError, GatewayError, PoolExhaustedError, ProtocolError, error_from_answer)

# The gateway always sends Retry-After: 5 with pool_exhausted; this covers a proxy that drops it
# and the stream's error event, which has no headers.
DEFAULT_RETRY_AFTER = 5.0

_NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, OSError)


class Transport:
    def __init__(self, base_url: str, token: str, *, timeout: float, retries: int, max_retry_wait: float,
                 auth_header: str, user_agent: str, sleep: Callable[[float], None] = time.sleep) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://, got %r" % base_url)
        if retries < 0 or max_retry_wait < 0:
            raise ValueError("retries and max_retry_wait must not be negative")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retries = retries
        self.max_retry_wait = max_retry_wait
        self.auth_header = auth_header
        self.user_agent = user_agent + " Python/" + platform.python_version()
        self.sleep = sleep  # replaceable so tests can check waits without waiting

    def retry_delay(self, error: GatewayError) -> float:
        """How long to wait before retrying after error: its Retry-After, capped."""
        wanted = error.retry_after
        return min(DEFAULT_RETRY_AFTER if wanted is None else wanted, self.max_retry_wait)

    def open(self, method: str, path: str, *, query: Optional[Mapping[str, Any]] = None, body: Any = None,
             content_type: Optional[str] = None, token: Optional[str] = None,
             accept: str = "application/json") -> http.client.HTTPResponse:
        """Sends the request and returns the open response (2xx only; the caller closes it).

        A 503 pool_exhausted is retried up to `retries` times after its Retry-After: nothing ran
        and no session was made, so sending the same request again is safe. Every other failure
        raises at once; the gateway's other errors either are not transient or have consequences
        (a timed-out execution destroyed its session) the caller must see.
        """
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode({k: _query_value(v) for k, v in query.items() if v is not None})
        data: Optional[bytes] = None
        if body is not None:
            if isinstance(body, (bytes, bytearray, memoryview)):
                data = bytes(body)
            else:
                data = json.dumps(body).encode("utf-8")
                content_type = content_type or "application/json"
        headers = {self.auth_header: token if token is not None else self.token, "Accept": accept,
                   "User-Agent": self.user_agent}
        if data is not None:
            headers["Content-Type"] = content_type or "application/octet-stream"

        attempt = 0
        while True:
            request = urllib.request.Request(url, data=data, method=method, headers=headers)
            try:
                response: http.client.HTTPResponse = urllib.request.urlopen(request, timeout=self.timeout)
                return response
            except urllib.error.HTTPError as e:
                error = _error_of(e)
            except _NETWORK_ERRORS as e:
                raise ConnectionFailedError("%s %s: %s" % (method, url, e)) from e
            if isinstance(error, PoolExhaustedError) and attempt < self.retries:
                attempt += 1
                self.sleep(self.retry_delay(error))
                continue
            raise error

    def json(self, method: str, path: str, **kwargs: Any) -> Dict[str, Any]:
        """The 2xx answer's JSON object."""
        response = self.open(method, path, **kwargs)
        with response:
            raw = read_all(response)
        try:
            value = json.loads(raw.decode("utf-8"))
        except ValueError as e:
            raise ProtocolError("%s %s: the answer is not JSON: %r" % (method, path, raw[:200])) from e
        if not isinstance(value, dict):
            raise ProtocolError("%s %s: expected a JSON object, got %r" % (method, path, raw[:200]))
        return value


def read_all(response: http.client.HTTPResponse) -> bytes:
    try:
        return response.read()
    except _NETWORK_ERRORS as e:
        raise ConnectionFailedError("reading the answer failed: %s" % e) from e


def lines_of(response: http.client.HTTPResponse) -> Iterator[bytes]:
    """The response's lines as they arrive, network failures mapped to ConnectionFailedError."""
    while True:
        try:
            line = response.readline()
        except _NETWORK_ERRORS as e:
            raise ConnectionFailedError("the stream broke: %s" % e) from e
        if not line:
            return
        yield line


def _query_value(value: Any) -> str:
    if isinstance(value, bool):  # the gateway reads "true"/"false", not Python's "True"
        return "true" if value else "false"
    return str(value)


def _error_of(e: urllib.error.HTTPError) -> GatewayError:
    try:
        raw = e.read()
    except _NETWORK_ERRORS:
        raw = b""
    text = raw.decode("utf-8", errors="replace")
    try:
        body: Any = json.loads(text)
    except ValueError:
        body = text  # e.g. the HTTP layer's plain-text 413, or a proxy's HTML page
    headers = dict(e.headers.items()) if e.headers is not None else {}
    return error_from_answer(e.code, body, headers)
