"""Unit tests against a fake gateway (a standard-library HTTP server in this process): the
requests the client sends, error mapping, retries, SSE parsing and image decoding."""

import base64
import json
import os
import sys
import threading
import time
import unittest
import urllib.parse
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple, Union

try:
    import code_interpreter_client  # noqa: F401  (installed, or on PYTHONPATH)
except ImportError:  # run from the source tree
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from code_interpreter_client import (AuthenticationError, BadRequestError, Client, ConnectionFailedError,
                                     DisplayEvent, ErrorEvent, ExecutionInterruptedError, ExecutionResult,
                                     ExecutionTimeoutError, FileConflictError, GatewayError, InvalidPathError,
                                     KernelError, NotFoundError, PayloadTooLargeError, PermissionDeniedError,
                                     PoolExhaustedError, ProtocolError, QueueFullError, RequestError, ResultEvent,
                                     ServerError, ServiceUnavailableError, SessionLostError, StderrEvent,
                                     StdoutEvent, UrlDownload, UrlUpload, ValidationError, WorkerLostError)
from code_interpreter_client import errors as errors_module
from code_interpreter_client.sse import parse_sse

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(40))
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(20))
USER = "0b7c2f4e-8a1d-4c1e-9f3a-2d5e6b7c8d9e"


def answer(**fields: Any) -> Dict[str, Any]:
    """A successful /execute answer with the gateway's fields."""
    body = {"stdout": "", "stderr": "", "outputs": [], "error": None, "execution_count": 0, "duration_ms": 1,
            "truncated": False, "new_session": False, "previous_session": None, "result_text": None,
            "result_base64": None}
    body.update(fields)
    return body


def sse(event: str, data: Any) -> str:
    return "event: %s\ndata: %s\n\n" % (event, json.dumps(data))


@dataclass
class Reply:
    status: int = 200
    body: Union[Dict[str, Any], bytes, str, None] = None
    headers: Dict[str, str] = field(default_factory=dict)
    # A Server-Sent Events answer: pieces of text sent as separate chunks; a threading.Event
    # among them makes the server wait for it before sending the rest.
    stream: Optional[List[Any]] = None


@dataclass
class Seen:
    method: str
    path: str
    query: Dict[str, str]
    headers: Dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode())


class FakeGateway:
    """Answers scripted replies per (method, path) in order (the last one repeats) and records
    every request."""

    def __init__(self) -> None:
        self.seen: List[Seen] = []
        self.replies: Dict[Tuple[str, str], List[Reply]] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # chunked streams, as the gateway sends them

            def log_message(self, *args: Any) -> None:
                pass

            def handle_one(self) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
                fake.seen.append(Seen(self.command, parsed.path, query,
                                      {k.lower(): v for k, v in self.headers.items()}, body))
                queue = fake.replies.get((self.command, parsed.path))
                if not queue:
                    reply = Reply(404, {"detail": "no route " + parsed.path, "reason": "not_found"})
                else:
                    reply = queue.pop(0) if len(queue) > 1 else queue[0]
                self.close_connection = True
                if reply.stream is not None:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for piece in reply.stream:
                        if isinstance(piece, threading.Event):
                            piece.wait(10)
                            continue
                        data = piece.encode()
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    return
                if isinstance(reply.body, dict):
                    data, ctype = json.dumps(reply.body).encode(), "application/json"
                elif isinstance(reply.body, str):
                    data, ctype = reply.body.encode(), "text/plain"
                else:
                    data, ctype = reply.body or b"", "application/octet-stream"
                self.send_response(reply.status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_PUT = handle_one

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]

    def reply(self, method: str, path: str, *replies: Reply) -> None:
        self.replies[(method, path)] = list(replies)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeGatewayTest(unittest.TestCase):
    def setUp(self) -> None:
        self.fake = FakeGateway()
        self.addCleanup(self.fake.close)
        self.sleeps: List[float] = []
        self.client = self.make_client()
        self.session = self.client.session(USER)

    def make_client(self, **kwargs: Any) -> Client:
        client = Client(self.fake.url, "user-token", admin_token="admin-token", timeout=10, **kwargs)
        client._transport.sleep = self.sleeps.append  # record the waits instead of waiting
        return client


class RequestShapeTest(FakeGatewayTest):
    def test_run_sends_code_and_token_and_parses_the_answer(self) -> None:
        self.fake.reply("POST", "/api/v1/execute", Reply(body=answer(
            stdout="42\n", result_text="42\n", execution_count=3, duration_ms=7, new_session=True,
            outputs=[{"type": "execute_result", "data": {"text/plain": "42"}, "metadata": {}}])))
        result = self.session.run("print(x)", store_history=True)
        request = self.fake.seen[0]
        self.assertEqual(request.headers["x-auth-token"], "user-token")
        self.assertEqual(request.json(), {"user_uuid": USER, "code": "print(x)", "store_history": True})
        self.assertEqual((result.stdout, result.text, result.value), ("42\n", "42\n", "42"))
        self.assertEqual((result.execution_count, result.duration_ms, result.new_session), (3, 7, True))
        self.assertTrue(result.ok)
        self.assertIsNone(result.error)
        self.session.run("1")
        self.assertNotIn("store_history", self.fake.seen[1].json())  # the gateway's default applies

    def test_a_kernel_exception_is_a_result_not_an_exception(self) -> None:
        self.fake.reply("POST", "/api/v1/execute", Reply(body=answer(error={
            "ename": "ZeroDivisionError", "evalue": "division by zero", "traceback": ["line 1", "line 2"]})))
        result = self.session.run("1/0")
        self.assertFalse(result.ok)
        self.assertEqual(result.error.ename, "ZeroDivisionError")
        self.assertEqual(result.error.traceback_text, "line 1\nline 2")
        with self.assertRaises(KernelError) as caught:
            result.raise_for_error()
        self.assertEqual((caught.exception.ename, caught.exception.result), ("ZeroDivisionError", result))

    def test_uploads_raw_and_multipart(self) -> None:
        self.fake.reply("POST", "/api/v1/files", Reply(body={"path": "data/a.bin", "size": 256, "new_session": True,
                                                             "previous_session": None}))
        blob = bytes(range(256))
        info = self.session.upload("data/a.bin", blob, overwrite=False)
        self.assertEqual((info.path, info.size, info.new_session), ("data/a.bin", 256, True))
        raw = self.fake.seen[0]
        self.assertEqual(raw.query, {"user_uuid": USER, "path": "data/a.bin", "overwrite": "false"})
        self.assertEqual(raw.headers["content-type"], "application/octet-stream")
        self.assertEqual(raw.body, blob)

        self.session.upload("data/a.bin", blob, multipart=True)
        form = self.fake.seen[1]
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + form.headers["content-type"].encode() + b"\r\n\r\n" + form.body)
        parts = {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}
        self.assertEqual(parts["user_uuid"].get_content().strip(), USER)
        self.assertEqual(parts["path"].get_content().strip(), "data/a.bin")
        self.assertEqual(parts["overwrite"].get_content().strip(), "true")
        self.assertEqual(parts["file"].get_filename(), "a.bin")
        self.assertEqual(parts["file"].get_content(), blob)

    def test_download_export_list_delete(self) -> None:
        self.fake.reply("GET", "/api/v1/files", Reply(body=b"\x00\x01raw"))
        self.fake.reply("POST", "/api/v1/files/export", Reply(body={"path": "a", "size": 3,
                                                                    "data_base64": base64.b64encode(b"abc").decode()}))
        self.fake.reply("GET", "/api/v1/files/list", Reply(body={"path": ".", "entries": [
            {"name": "d", "type": "directory", "size": 0, "modified_unix_ms": 5},
            {"name": "f", "type": "file", "size": 3, "modified_unix_ms": 6}]}))
        self.fake.reply("DELETE", "/api/v1/files", Reply(body={"status": "ok", "path": "d"}))
        self.assertEqual(self.session.download("x/y.bin"), b"\x00\x01raw")
        self.assertEqual(self.fake.seen[-1].query, {"user_uuid": USER, "path": "x/y.bin"})
        self.assertEqual(self.session.export("a"), b"abc")
        entries = self.session.list_files()
        self.assertEqual([(e.name, e.is_dir, e.size) for e in entries], [("d", True, 0), ("f", False, 3)])
        self.session.delete("d", recursive=True)
        self.assertEqual(self.fake.seen[-1].query, {"user_uuid": USER, "path": "d", "recursive": "true"})

    def test_url_transfers_use_the_original_form(self) -> None:
        self.fake.reply("POST", "/api/v1/files", Reply(201, {"success": True, "results": [
            {"full_path": "/sandbox/in/a.csv", "size": 4}]}))
        self.fake.reply("POST", "/api/v1/files/export", Reply(body={"success": True, "results": [
            {"path": "/sandbox/", "name": "b.png", "size": 9}]}))
        done = self.session.download_from_urls([UrlDownload("https://store/a.csv?sig=1", "a.csv", "/sandbox/in/")])
        self.assertTrue(done.success)
        self.assertEqual(done.results, [{"full_path": "/sandbox/in/a.csv", "size": 4}])
        self.assertEqual(self.fake.seen[0].query, {"user_uuid": USER})
        self.assertEqual(self.fake.seen[0].json(), {"files": [
            {"download_url": "https://store/a.csv?sig=1", "path": "/sandbox/in/", "name": "a.csv"}]})
        self.session.upload_to_urls([UrlUpload("https://store/", "b.png", fields={"key": "out/b.png"}),
                                     UrlUpload("https://store/put", "c.txt", path="out")])
        self.assertEqual(self.fake.seen[1].json(), {"files": [
            {"upload_url": "https://store/", "path": "/sandbox/", "name": "b.png", "upload_fields": {"key": "out/b.png"}},
            {"upload_url": "https://store/put", "path": "out", "name": "c.txt"}]})

    def test_context_exit_releases_and_tolerates_no_session(self) -> None:
        self.fake.reply("POST", "/api/v1/release", Reply(body={"status": "ok", "detail": "released"}),
                        Reply(404, {"detail": "no session", "reason": "not_found"}))
        with self.client.session() as session:
            pass
        self.assertEqual(self.fake.seen[0].json(), {"user_uuid": session.user_uuid})
        with self.client.session(USER):  # 404: there was no session to release; not an error
            pass
        self.assertEqual(len(self.fake.seen), 2)

    def test_context_exit_does_not_hide_the_block_exception(self) -> None:
        self.fake.reply("POST", "/api/v1/release", Reply(500, {"detail": "boom", "reason": "internal"}))
        with self.assertRaises(KeyError):
            with self.client.session(USER):
                raise KeyError("from the block")
        with self.assertRaises(ServerError):  # without one, the release's failure is the news
            with self.client.session(USER):
                pass

    def test_interrupt_answers_a_bool(self) -> None:
        self.fake.reply("POST", "/api/v1/interrupt", Reply(body={"status": "ok", "interrupted": True}),
                        Reply(body={"status": "ok", "interrupted": False}),
                        Reply(404, {"detail": "no session", "reason": "not_found"}))
        self.assertEqual([self.session.interrupt() for _ in range(3)], [True, False, False])

    def test_status_uses_the_admin_token_and_health_none(self) -> None:
        self.fake.reply("GET", "/api/v1/status", Reply(body={
            "total_workers": 3, "idle_workers": 1, "busy_workers": 2, "sessions": 2, "is_initializing": False,
            "limits": {"max_total_workers": 3}, "condition": {"state": "ok"}, "new_field": 1}))
        self.fake.reply("GET", "/api/v1/health", Reply(body={"status": "ok"}))
        status = self.client.status()
        self.assertEqual(self.fake.seen[0].headers["x-auth-token"], "admin-token")
        self.assertEqual((status.total_workers, status.busy_workers, status.sessions), (3, 2, 2))
        self.assertEqual(status.limits["max_total_workers"], 3)
        self.assertEqual(status.raw["new_field"], 1)
        self.assertTrue(self.client.health().ok)

    def test_a_non_json_answer_is_a_protocol_error(self) -> None:
        self.fake.reply("POST", "/api/v1/execute", Reply(body="<html>proxy</html>"))
        with self.assertRaises(ProtocolError):
            self.session.run("1")

    def test_an_unreachable_gateway(self) -> None:
        port = self.fake.server.server_address[1]
        self.fake.close()  # nothing listens there now (closing again in cleanup is harmless)
        client = Client("http://127.0.0.1:%d" % port, "t", timeout=2)
        with self.assertRaises(ConnectionFailedError):
            client.health()
        with self.assertRaises(ValueError):
            Client("127.0.0.1:3874", "t")


class ErrorMappingTest(FakeGatewayTest):
    CASES = [
        (400, "bad_request", BadRequestError), (400, "invalid_path", InvalidPathError),
        (401, "unauthorized", AuthenticationError), (403, "forbidden", PermissionDeniedError),
        (404, "not_found", NotFoundError), (409, "file_exists", FileConflictError),
        (409, "interrupted", ExecutionInterruptedError), (413, "payload_too_large", PayloadTooLargeError),
        (422, "validation_failed", ValidationError), (429, "queue_full", QueueFullError),
        (503, "timeout", ExecutionTimeoutError), (503, "pool_exhausted", PoolExhaustedError),
        (504, "worker_lost", WorkerLostError),
        (418, "a_reason_from_the_future", RequestError), (503, "", ServiceUnavailableError),
        (502, "", ServerError),
    ]

    def test_each_reason_raises_its_class_with_the_answer(self) -> None:
        for status, reason, cls in self.CASES:
            with self.subTest(reason=reason or status):
                body = {"detail": "what happened", "reason": reason, "session_kept": False}
                self.fake.reply("POST", "/api/v1/execute", Reply(status, body, {"X-Extra": "1"}))
                with self.assertRaises(GatewayError) as caught:
                    self.make_client(retries=0).session(USER).run("1")
                error = caught.exception
                self.assertIs(type(error), cls)
                self.assertEqual((error.status, error.reason, error.detail), (status, reason, "what happened"))
                self.assertEqual(error.body, body)
                self.assertEqual(error.headers["x-extra"], "1")
                self.assertIs(error.session_kept, False)

    def test_families(self) -> None:
        self.assertTrue(issubclass(WorkerLostError, SessionLostError))
        self.assertTrue(issubclass(PoolExhaustedError, ServiceUnavailableError))
        self.assertTrue(issubclass(ValidationError, BadRequestError))
        self.assertFalse(issubclass(ExecutionTimeoutError, ServiceUnavailableError))  # not blindly retryable
        for reason, (cls, status) in errors_module._REASONS.items():
            self.assertTrue(issubclass(cls, GatewayError), reason)
            self.assertEqual(errors_module.error_from_event({"reason": reason, "detail": ""}).status, status)

    def test_a_plain_text_error(self) -> None:
        self.fake.reply("POST", "/api/v1/files", Reply(413, "request body too large"))
        with self.assertRaises(PayloadTooLargeError) as caught:
            self.session.upload("a", b"x")
        self.assertEqual((caught.exception.reason, caught.exception.detail), ("", "request body too large"))

    def test_an_interrupted_execution_keeps_its_partial_output(self) -> None:
        self.fake.reply("POST", "/api/v1/execute", Reply(409, dict(answer(stdout="started\n"), detail="interrupted",
                                                                   reason="interrupted", session_kept=True)))
        with self.assertRaises(ExecutionInterruptedError) as caught:
            self.session.run("import time; print('started'); time.sleep(60)")
        self.assertTrue(caught.exception.session_kept)
        self.assertEqual(caught.exception.partial_result.stdout, "started\n")


class RetryTest(FakeGatewayTest):
    EXHAUSTED = {"detail": "all workers are in use", "reason": "pool_exhausted"}

    def test_pool_exhausted_is_retried_after_retry_after(self) -> None:
        self.fake.reply("POST", "/api/v1/execute", Reply(503, self.EXHAUSTED, {"Retry-After": "2"}),
                        Reply(503, self.EXHAUSTED, {"Retry-After": "3"}), Reply(body=answer(stdout="ok\n")))
        self.assertEqual(self.session.run("print('ok')").stdout, "ok\n")
        self.assertEqual(self.sleeps, [2.0, 3.0])
        self.assertEqual(len(self.fake.seen), 3)
        self.assertEqual({r.body for r in self.fake.seen}, {self.fake.seen[0].body})  # the same request each time

    def test_retries_are_bounded(self) -> None:
        self.fake.reply("POST", "/api/v1/execute", Reply(503, self.EXHAUSTED, {"Retry-After": "1"}))
        with self.assertRaises(PoolExhaustedError) as caught:
            self.make_client(retries=2).session(USER).run("1")
        self.assertEqual(caught.exception.retry_after, 1.0)
        self.assertEqual(len(self.fake.seen), 3)
        self.assertEqual(self.sleeps, [1.0, 1.0])

    def test_waits_are_capped_and_dates_understood(self) -> None:
        self.fake.reply("POST", "/api/v1/execute", Reply(503, self.EXHAUSTED, {"Retry-After": "3600"}),
                        Reply(503, self.EXHAUSTED, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
                        Reply(503, self.EXHAUSTED), Reply(body=answer()))
        self.make_client(max_retry_wait=10).session(USER).run("1")
        # capped at 10; a date in the past means now; no header: the gateway's usual 5 s
        self.assertEqual(self.sleeps, [10.0, 0.0, 5.0])

    def test_other_503s_are_not_retried(self) -> None:
        self.fake.reply("POST", "/api/v1/execute", Reply(503, {"detail": "ran too long", "reason": "timeout",
                                                               "session_kept": False}, {"Retry-After": "1"}))
        with self.assertRaises(ExecutionTimeoutError):
            self.session.run("1")
        self.assertEqual((len(self.fake.seen), self.sleeps), (1, []))

    def test_a_real_wait(self) -> None:
        self.fake.reply("POST", "/api/v1/execute", Reply(503, self.EXHAUSTED, {"Retry-After": "1"}),
                        Reply(body=answer()))
        client = Client(self.fake.url, "t", timeout=10)  # with time.sleep
        started = time.monotonic()
        client.session(USER).run("1")
        self.assertGreaterEqual(time.monotonic() - started, 0.9)


class StreamTest(FakeGatewayTest):
    def test_events_are_typed_and_in_order(self) -> None:
        png = base64.b64encode(PNG).decode()
        self.fake.reply("POST", "/api/v1/execute/stream", Reply(stream=[
            ": a comment the parser skips\n\n",
            sse("stdout", {"text": "0\n"}), sse("stderr", {"text": "warn\n"}),
            sse("display", {"type": "display_data", "data": {"image/png": png, "text/plain": "<Figure>"},
                            "metadata": {}}),
            sse("error", {"ename": "ValueError", "evalue": "bad", "traceback": ["tb"]}),
            sse("result", answer(stdout="0\n", stderr="warn\n", error={"ename": "ValueError", "evalue": "bad",
                                                                      "traceback": ["tb"]})),
        ]))
        events = list(self.session.stream("code", store_history=False))
        self.assertEqual(self.fake.seen[0].headers["accept"], "text/event-stream")
        self.assertEqual(self.fake.seen[0].json(), {"user_uuid": USER, "code": "code", "store_history": False})
        self.assertEqual([e.kind for e in events], ["stdout", "stderr", "display", "error", "result"])
        self.assertEqual(events[0], StdoutEvent("0\n"))
        self.assertEqual(events[1], StderrEvent("warn\n"))
        self.assertIsInstance(events[2], DisplayEvent)
        self.assertEqual(events[2].images[0].data, PNG)
        self.assertIsInstance(events[3], ErrorEvent)
        self.assertEqual(events[3].error.ename, "ValueError")
        self.assertIsInstance(events[4], ResultEvent)
        self.assertEqual(events[4].result.error.evalue, "bad")

    def test_events_arrive_before_the_stream_ends(self) -> None:
        gate = threading.Event()
        self.fake.reply("POST", "/api/v1/execute/stream", Reply(stream=[
            sse("stdout", {"text": "first\n"}), gate, sse("result", answer(stdout="first\n"))]))
        events = self.session.stream("code")
        first = next(events)  # would block for 10 s if the client waited for the whole answer
        self.assertFalse(gate.is_set())
        self.assertEqual(first, StdoutEvent("first\n"))
        gate.set()
        self.assertIsInstance(next(events), ResultEvent)
        with self.assertRaises(StopIteration):
            next(events)

    def test_a_final_error_event_raises(self) -> None:
        self.fake.reply("POST", "/api/v1/execute/stream", Reply(stream=[
            sse("stdout", {"text": "started\n"}),
            sse("error", dict(answer(stdout="started\n"), detail="stopped", reason="interrupted", session_kept=True))]))
        seen = []
        with self.assertRaises(ExecutionInterruptedError) as caught:
            for event in self.session.stream("code"):
                seen.append(event)
        self.assertEqual(seen, [StdoutEvent("started\n")])
        self.assertEqual((caught.exception.status, caught.exception.session_kept), (409, True))
        self.assertEqual(caught.exception.partial_result.stdout, "started\n")

    def test_a_stream_cut_short(self) -> None:
        self.fake.reply("POST", "/api/v1/execute/stream", Reply(stream=[
            sse("stdout", {"text": "a"}), "event: result\ndata: {\"stdout\""]))  # no blank line: incomplete
        with self.assertRaises(ProtocolError):
            list(self.session.stream("code"))

    def test_pool_exhausted_before_any_output_is_retried(self) -> None:
        self.fake.reply("POST", "/api/v1/execute/stream",
                        Reply(stream=[sse("error", {"detail": "busy", "reason": "pool_exhausted"})]),
                        Reply(stream=[sse("result", answer(stdout="x"))]))
        events = list(self.session.stream("code"))
        self.assertEqual([e.kind for e in events], ["result"])
        self.assertEqual(self.sleeps, [5.0])

    def test_a_refusal_before_the_stream(self) -> None:
        self.fake.reply("POST", "/api/v1/execute/stream", Reply(401, {"detail": "no", "reason": "unauthorized"}))
        with self.assertRaises(AuthenticationError):
            list(self.session.stream("code"))


class SseParserTest(unittest.TestCase):
    def parse(self, lines: List[Any]) -> List[Tuple[str, str, Optional[str]]]:
        return [(e.event, e.data, e.id) for e in parse_sse(lines)]

    def test_the_format(self) -> None:
        self.assertEqual(self.parse([
            "\ufeffevent: a\n", "data: 1\n", "\n",        # BOM at the start
            ": keep-alive\n", "\n",                      # a comment alone dispatches nothing
            "data: x\r\n", "data:y\r\n", "id: 7\r\n", "\r\n",  # CRLF, multi-line data, no space after ':'
            b"event: b\rdata: \xc3\xa9\r\r",             # bare CR endings, bytes, UTF-8
            "data\n", "\n",                              # a field without a colon: empty data
            "event: dropped\n", "data: cut\n",           # no blank line at the end: dropped
        ]), [("a", "1", None), ("message", "x\ny", "7"), ("b", "\u00e9", "7"), ("message", "", "7")])


class ImageTest(unittest.TestCase):
    def test_images_decoded_from_outputs(self) -> None:
        result = ExecutionResult.from_json(answer(outputs=[
            {"type": "display_data", "data": {"image/png": base64.b64encode(PNG).decode(), "text/plain": "fig"}},
            {"type": "display_data", "data": {"image/jpeg": base64.encodebytes(JPEG).decode()}},  # with newlines
            {"type": "display_data", "data": {"image/svg+xml": ["<svg>", "</svg>"]}},
            {"type": "execute_result", "data": {"text/plain": "3"}},
        ]))
        self.assertEqual([(i.mime_type, i.data) for i in result.images],
                         [("image/png", PNG), ("image/jpeg", JPEG), ("image/svg+xml", b"<svg></svg>")])
        self.assertEqual(result.png, PNG)
        self.assertEqual(result.value, "3")

    def test_the_original_fields_alone(self) -> None:
        result = ExecutionResult.from_json({"result_text": "done", "result_base64": base64.b64encode(PNG).decode()})
        self.assertEqual((result.text, result.png, result.stdout), ("done", PNG, ""))

    def test_no_image(self) -> None:
        result = ExecutionResult.from_json(answer(outputs=[{"type": "display_data", "data": {"image/png": "!!"}}]))
        self.assertEqual((result.images, result.png), ([], None))


if __name__ == "__main__":
    unittest.main()
