#!/usr/bin/env python3
"""A small client for the code-interpreter gateway, with the standard library only (Python 3.9+).

    from python_client import CodeInterpreterClient

    client = CodeInterpreterClient("http://127.0.0.1:3874", token=open("var/auth_token.txt").read().strip())
    client.execute("import math; r = 2")
    answer = client.execute("print(math.pi * r ** 2)")
    print(answer["stdout"])                      # 12.566370614359172
    for event, data in client.stream("for i in range(3): print(i)"):
        print(event, data)                       # stdout {'text': '0\\n'} ... result {...}
    client.upload("data/input.csv", b"a,b\\n1,2\\n")
    client.release()

One client is one session: it carries its own user_uuid (a new random one unless given). Every
non-2xx answer raises GatewayError with the answer's HTTP status, reason and detail (docs/api.md
lists them). A 503 pool_exhausted is retried after the answer's Retry-After, a few times.

Run as a program it demonstrates the API against a gateway:

    python3 examples/python_client.py --url http://127.0.0.1:3874 --token-file var/auth_token.txt

and with --self-check it also exercises the error paths, the interrupt and the files, checks every
answer, and exits with status 1 when anything differs from what the API promises.
"""

import argparse
import base64
import json
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any, Dict, Iterator, List, Optional, Tuple

__all__ = ["CodeInterpreterClient", "GatewayError"]


class GatewayError(Exception):
    """A non-2xx answer: status is the HTTP status, reason the machine-readable code, body the JSON."""

    def __init__(self, status: int, body: Dict[str, Any], headers: Optional[Dict[str, str]] = None):
        self.status = status
        self.body = body
        self.reason = body.get("reason", "")
        self.detail = body.get("detail", "")
        self.headers = headers or {}
        super().__init__("HTTP %d %s: %s" % (status, self.reason, self.detail))

    @property
    def retry_after(self) -> Optional[float]:
        value = self.headers.get("retry-after")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None


class CodeInterpreterClient:
    """One user's session on a gateway: execute, stream, interrupt, files, release."""

    def __init__(self, base_url: str, token: str, user_uuid: Optional[str] = None, timeout: float = 300.0,
                 pool_retries: int = 3):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.user_uuid = user_uuid or str(uuid.uuid4())
        self.timeout = timeout
        self.pool_retries = pool_retries

    # ----- session ---------------------------------------------------------------------------

    def execute(self, code: str, store_history: Optional[bool] = None) -> Dict[str, Any]:
        """Runs code in this user's kernel; returns the answer: stdout, stderr, outputs, error,
        execution_count, duration_ms, truncated, new_session, previous_session (and the original
        project's result_text and result_base64). A Python exception is in answer["error"]."""
        return self._json("POST", "/api/v1/execute", self._execute_body(code, store_history))

    def stream(self, code: str, store_history: Optional[bool] = None) -> Iterator[Tuple[str, Any]]:
        """Runs code and yields (event, data) as the output arrives: ("stdout" | "stderr", {"text"}),
        ("display", {type, data, metadata}), ("error", {ename, evalue, traceback}) for an exception,
        then ("result", <the execute answer>). A failed execution raises GatewayError from its
        final "error" event (the one with a "reason")."""
        response = self._open("POST", "/api/v1/execute/stream", self._execute_body(code, store_history),
                              accept="text/event-stream")
        with response:
            for event, data in _sse_events(response):
                if event == "error" and isinstance(data, dict) and "reason" in data:
                    raise GatewayError(_status_of_reason(data["reason"]), data)
                yield event, data

    def interrupt(self) -> Dict[str, Any]:
        """Interrupts this user's running execution (KeyboardInterrupt); {"status", "interrupted"}.
        The interrupted execute call raises GatewayError with reason "interrupted"; the session and
        its variables are kept."""
        return self._json("POST", "/api/v1/interrupt", {"user_uuid": self.user_uuid})

    def release(self) -> Dict[str, Any]:
        """Ends this user's session: its kernel, variables and files are gone."""
        return self._json("POST", "/api/v1/release", {"user_uuid": self.user_uuid})

    # ----- files in the session's workspace (the kernel's working directory) ------------------

    def upload(self, path: str, data: bytes, overwrite: bool = True, multipart: bool = False) -> Dict[str, Any]:
        """Writes data at path (relative to the workspace); {"path", "size", ...}. multipart sends
        a multipart/form-data form (what a browser or `curl -F` sends) instead of the raw bytes."""
        if multipart:
            boundary = "ci-" + uuid.uuid4().hex
            name = path.rsplit("/", 1)[-1]
            fields = [("user_uuid", self.user_uuid), ("path", path), ("overwrite", "true" if overwrite else "false")]
            body = b"".join(
                b"--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                % (boundary.encode(), key.encode(), value.encode()) for key, value in fields)
            body += (b"--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
                     b"Content-Type: application/octet-stream\r\n\r\n" % (boundary.encode(), name.encode()))
            body += data + b"\r\n--%s--\r\n" % boundary.encode()
            return self._json("POST", "/api/v1/files", body, content_type="multipart/form-data; boundary=" + boundary)
        query = {"user_uuid": self.user_uuid, "path": path, "overwrite": "true" if overwrite else "false"}
        return self._json("POST", "/api/v1/files", data, query=query, content_type="application/octet-stream")

    def download(self, path: str) -> bytes:
        """The file's exact bytes."""
        response = self._open("GET", "/api/v1/files", None, query={"user_uuid": self.user_uuid, "path": path})
        with response:
            return response.read()

    def export(self, path: str) -> bytes:
        """The same bytes through the JSON route (POST /api/v1/files/export, base64 inside)."""
        answer = self._json("POST", "/api/v1/files/export", {"user_uuid": self.user_uuid, "path": path})
        return base64.b64decode(answer["data_base64"])

    def list_files(self, path: str = ".") -> List[Dict[str, Any]]:
        """The entries of a directory: [{"name", "type", "size", "modified_unix_ms"}]."""
        return self._json("GET", "/api/v1/files/list", None, query={"user_uuid": self.user_uuid, "path": path})["entries"]

    def delete(self, path: str, recursive: bool = False) -> Dict[str, Any]:
        """Deletes a file, or with recursive a directory and its contents."""
        return self._json("DELETE", "/api/v1/files", None,
                          query={"user_uuid": self.user_uuid, "path": path, "recursive": "true" if recursive else "false"})

    # ----- the gateway ------------------------------------------------------------------------

    def health(self) -> Dict[str, Any]:
        return self._json("GET", "/api/v1/health", None)

    def status(self) -> Dict[str, Any]:
        """The pool's state; needs the admin token (403 forbidden with the user token)."""
        return self._json("GET", "/api/v1/status", None)

    # ----- HTTP -------------------------------------------------------------------------------

    def _execute_body(self, code: str, store_history: Optional[bool]) -> Dict[str, Any]:
        body: Dict[str, Any] = {"user_uuid": self.user_uuid, "code": code}
        if store_history is not None:
            body["store_history"] = store_history
        return body

    def _open(self, method: str, path: str, body: Any, query: Optional[Dict[str, str]] = None,
              content_type: str = "application/json", accept: str = "application/json"):
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, bytearray)) else json.dumps(body).encode()
        headers = {"X-Auth-Token": self.token, "Accept": accept}
        if data is not None:
            headers["Content-Type"] = content_type
        for attempt in range(self.pool_retries + 1):
            request = urllib.request.Request(url, data=data, method=method, headers=headers)
            try:
                return urllib.request.urlopen(request, timeout=self.timeout)
            except urllib.error.HTTPError as e:
                error = _gateway_error(e)
                if error.reason == "pool_exhausted" and attempt < self.pool_retries:
                    time.sleep(error.retry_after or 5)
                    continue
                raise error from None
        raise AssertionError("unreachable")

    def _json(self, method: str, path: str, body: Any, **kwargs: Any) -> Dict[str, Any]:
        with self._open(method, path, body, **kwargs) as response:
            return json.loads(response.read().decode())


def _gateway_error(e: "urllib.error.HTTPError") -> GatewayError:
    raw = e.read()
    try:
        body = json.loads(raw.decode())
        if not isinstance(body, dict):
            raise ValueError
    except ValueError:
        body = {"detail": raw.decode(errors="replace")}
    headers = {k.lower(): v for k, v in e.headers.items()} if e.headers else {}
    return GatewayError(e.code, body, headers)


# The HTTP status of each reason (docs/api.md), for errors that arrive inside an event stream.
_REASON_STATUS = {
    "bad_request": 400, "invalid_path": 400, "unauthorized": 401, "forbidden": 403, "not_found": 404,
    "method_not_allowed": 405, "session_released": 409, "interrupted": 409, "file_exists": 409,
    "is_a_directory": 409, "not_a_directory": 409, "not_empty": 409, "payload_too_large": 413,
    "validation_failed": 422, "url_refused": 422, "queue_full": 429, "internal": 500, "file_io": 500,
    "transfer_failed": 502, "pool_exhausted": 503, "backend_unavailable": 503, "timeout": 503,
    "kernel_died": 503, "oom_killed": 503, "shutting_down": 503, "worker_lost": 504, "transfer_timeout": 504,
    "insufficient_storage": 507,
}


def _status_of_reason(reason: str) -> int:
    return _REASON_STATUS.get(reason, 500)


def _sse_events(response: Any) -> Iterator[Tuple[str, Any]]:
    """(event, parsed data) for each Server-Sent Event of a response, as the lines arrive."""
    event, data = "message", []
    for raw in response:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
    if data:
        yield event, json.loads("\n".join(data))


# ----- the demo and self-check ------------------------------------------------------------------

class Checker:
    def __init__(self, verbose: bool):
        self.verbose = verbose
        self.passed = 0
        self.failed: List[str] = []

    def check(self, what: str, condition: bool, got: Any = None) -> None:
        if condition:
            self.passed += 1
            if self.verbose:
                print("ok    %s" % what)
        else:
            self.failed.append(what)
            print("FAIL  %s (got %r)" % (what, got))

    def raises(self, what: str, status: int, reason: str, call: Any) -> Optional[GatewayError]:
        try:
            result = call()
        except GatewayError as e:
            self.check("%s -> %d %s" % (what, status, reason), e.status == status and e.reason == reason,
                       (e.status, e.reason, e.detail))
            return e
        self.check("%s -> %d %s" % (what, status, reason), False, result)
        return None


def demo(client: CodeInterpreterClient, checker: Checker, show: bool) -> None:
    def say(text: str) -> None:
        if show:
            print(text)

    check = checker.check
    check("health", client.health().get("status") == "ok")

    first = client.execute("x = 21")
    check("the first call starts a session", first["new_session"] is True, first)
    answer = client.execute("print(x * 2)")
    say(">>> print(x * 2)\n" + answer["stdout"])
    check("variables persist: stdout is 42", answer["stdout"] == "42\n", answer)
    check("the second call keeps the session", answer["new_session"] is False, answer)
    check("the seed's result_text is kept", answer["result_text"] == "42\n", answer)

    value = client.execute("x * 2")
    outputs = value["outputs"]
    check("the last expression is an execute_result",
          len(outputs) == 1 and outputs[0]["type"] == "execute_result" and outputs[0]["data"].get("text/plain") == "42",
          value)

    failed = client.execute("1/0")
    say(">>> 1/0\n%s: %s" % (failed["error"]["ename"], failed["error"]["evalue"]) if failed["error"] else "")
    check("an exception is a normal answer with error",
          failed["error"] is not None and failed["error"]["ename"] == "ZeroDivisionError", failed)
    check("tracebacks carry no colour codes", all("\x1b" not in line for line in failed["error"]["traceback"]), failed)

    events = list(client.stream("import sys, time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.05)\n"
                                "print('warn', file=sys.stderr)\nx + 1"))
    names = [name for name, _ in events]
    say("stream events: " + " ".join(names))
    streamed = "".join(data["text"] for name, data in events if name == "stdout")
    check("the stream carries stdout as it comes", streamed == "0\n1\n2\n", events)
    check("the stream carries stderr", any(name == "stderr" and data["text"] == "warn\n" for name, data in events), events)
    check("the stream carries the value as a display event",
          any(name == "display" and data["data"].get("text/plain") == "22" for name, data in events), events)
    check("the stream ends with one result", names.count("result") == 1 and names[-1] == "result", names)
    if names and names[-1] == "result":
        check("the result holds the whole output", events[-1][1]["stdout"] == "0\n1\n2\n", events[-1][1])

    written = client.upload("data/hello.txt", b"hello\n")
    check("raw upload", written["path"] == "data/hello.txt" and written["size"] == 6, written)
    blob = bytes(range(256)) * 4
    written = client.upload("data/blob.bin", blob, multipart=True)
    check("multipart upload", written["size"] == len(blob), written)
    read = client.execute("print(open('data/hello.txt').read(), end='')")
    check("the kernel sees uploaded files", read["stdout"] == "hello\n", read)
    client.execute("with open('result.txt', 'w') as f:\n    f.write('made by the kernel')")
    check("download a file the code wrote", client.download("result.txt") == b"made by the kernel")
    check("binary files come back intact", client.download("data/blob.bin") == blob)
    check("export returns the same bytes", client.export("data/blob.bin") == blob)
    names_in_data = sorted(entry["name"] for entry in client.list_files("data"))
    say("files in data/: " + ", ".join(names_in_data))
    check("list a directory", names_in_data == ["blob.bin", "hello.txt"], names_in_data)
    client.delete("data", recursive=True)
    check("delete a directory", "data" not in [entry["name"] for entry in client.list_files()])


def self_check_extras(client: CodeInterpreterClient, checker: Checker, admin: Optional[CodeInterpreterClient]) -> None:
    check = checker.check
    # Interrupt a streamed execution once its first output arrived.
    outcome: Dict[str, Any] = {}
    started = threading.Event()

    def run_streamed() -> None:
        try:
            for event, data in client.stream("import time\nprint('started', flush=True)\ntime.sleep(60)"):
                if event == "stdout":
                    started.set()
        except GatewayError as e:
            outcome["error"] = e
        except Exception as e:  # reported by the checks below
            outcome["failure"] = e
        started.set()

    thread = threading.Thread(target=run_streamed)
    thread.start()
    started.wait(60)
    answer = client.interrupt()
    thread.join(30)
    check("interrupt stops a running execution", answer == {"status": "ok", "interrupted": True}
          and not thread.is_alive(), (answer, outcome))
    error = outcome.get("error")
    check("the interrupted stream ends with error interrupted, session_kept",
          error is not None and error.reason == "interrupted" and error.body.get("session_kept") is True, outcome)
    if error is not None:
        check("the interrupted execution's output so far comes along", error.body.get("stdout") == "started\n",
              error.body)

    # The same through the plain execute call: it answers 409 interrupted.
    plain: Dict[str, Any] = {}

    def run_plain() -> None:
        try:
            plain["answer"] = client.execute("import time\ntime.sleep(60)")
        except GatewayError as e:
            plain["error"] = e

    thread = threading.Thread(target=run_plain)
    thread.start()
    deadline = time.monotonic() + 30
    interrupted = False
    while not interrupted and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.2)
        interrupted = client.interrupt().get("interrupted", False)
    thread.join(30)
    error = plain.get("error")
    check("an interrupted execute answers 409 interrupted",
          error is not None and error.status == 409 and error.reason == "interrupted", plain)
    check("variables survive an interrupt", client.execute("print(x)")["stdout"] == "21\n")
    check("interrupting an idle session", client.interrupt() == {"status": "ok", "interrupted": False})

    checker.raises("a user_uuid that is not a UUID (422 on /execute, as in the original)", 422, "validation_failed",
                   lambda: CodeInterpreterClient(client.base_url, client.token, "not-a-uuid").execute("1"))
    checker.raises("a wrong token", 401, "unauthorized",
                   lambda: CodeInterpreterClient(client.base_url, "wrong-token", client.user_uuid).execute("1"))
    checker.raises("status with the user token", 403, "forbidden", client.status)
    checker.raises("a missing file", 404, "not_found", lambda: client.download("no/such/file"))
    checker.raises("a path leaving the workspace", 400, "invalid_path", lambda: client.download("../etc/passwd"))
    client.upload("keep.txt", b"1")
    checker.raises("upload without overwrite onto a file", 409, "file_exists",
                   lambda: client.upload("keep.txt", b"2", overwrite=False))
    if admin is not None:
        status = admin.status()
        check("status with the admin token", status.get("sessions", 0) >= 1 and "limits" in status, status)

    check("release", client.release().get("status") == "ok")
    checker.raises("release without a session", 404, "not_found", client.release)
    fresh = client.execute("print('x' in dir())")
    check("after a release the next call starts afresh", fresh["new_session"] is True and fresh["stdout"] == "False\n",
          fresh)
    client.release()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Demonstrate (and check) the code-interpreter gateway's API.")
    parser.add_argument("--url", default="http://127.0.0.1:3874", help="the gateway's base URL")
    parser.add_argument("--token-file", required=True, help="a file holding the user token")
    parser.add_argument("--admin-token-file", help="a file holding the admin token (for /status)")
    parser.add_argument("--user-uuid", help="the session's user (default: a new random one)")
    parser.add_argument("--self-check", action="store_true",
                        help="also check error paths, the interrupt and release; terse output; exit 1 on a mismatch")
    args = parser.parse_args(argv)

    with open(args.token_file) as f:
        token = f.read().strip()
    admin = None
    if args.admin_token_file:
        with open(args.admin_token_file) as f:
            admin = CodeInterpreterClient(args.url, f.read().strip())
    client = CodeInterpreterClient(args.url, token, args.user_uuid, timeout=120)
    checker = Checker(verbose=args.self_check)
    try:
        demo(client, checker, show=not args.self_check)
        if args.self_check:
            self_check_extras(client, checker, admin)
        else:
            client.release()
    except GatewayError as e:
        checker.check("no unexpected error answer", False, str(e))
    except (OSError, ValueError, KeyError, TypeError) as e:
        checker.check("no unexpected failure", False, "%s: %s" % (type(e).__name__, e))
    mode = "self-check" if args.self_check else "demo"
    if checker.failed:
        print("%s FAILED: %d of %d checks" % (mode, len(checker.failed), checker.passed + len(checker.failed)))
        return 1
    print("%s passed: %d checks" % (mode, checker.passed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
