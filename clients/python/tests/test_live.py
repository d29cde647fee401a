"""Tests against a real gateway, skipped unless it is named in the environment:

    CI_GATEWAY_URL        e.g. http://127.0.0.1:3874
    CI_USER_TOKEN_FILE    a file holding the user token
    CI_ADMIN_TOKEN_FILE   a file holding the admin token (the status tests)
    CI_URL_STORE_PORT     a port on 127.0.0.1 the gateway may reach (files.url_allowed_private_hosts
                          holds "127.0.0.1:<port>"): the transfer-by-URL tests serve a fake object
                          store there

Every test uses its own session and releases it, so they run in any order on a small pool.
"""

import email.parser
import email.policy
import hashlib
import os
import sys
import tempfile
import threading
import time
import unittest
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional

try:
    import code_interpreter_client  # noqa: F401
except ImportError:  # run from the source tree
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from code_interpreter_client import (AuthenticationError, Client, DisplayEvent, ErrorEvent,
                                     ExecutionInterruptedError, FileConflictError, GatewayError, InvalidPathError,
                                     KernelError, NotFoundError, PermissionDeniedError, ResultEvent, Session,
                                     StderrEvent, StdoutEvent, TransferError, UrlDownload, UrlRefusedError,
                                     UrlUpload, ValidationError)

GATEWAY_URL = os.environ.get("CI_GATEWAY_URL", "")
USER_TOKEN_FILE = os.environ.get("CI_USER_TOKEN_FILE", "")
ADMIN_TOKEN_FILE = os.environ.get("CI_ADMIN_TOKEN_FILE", "")
STORE_PORT = os.environ.get("CI_URL_STORE_PORT", "")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

needs_gateway = unittest.skipUnless(GATEWAY_URL and USER_TOKEN_FILE,
                                    "real-service test: set CI_GATEWAY_URL and CI_USER_TOKEN_FILE")


def make_client(**kwargs: Any) -> Client:
    # Generous: a first cell may wait for a worker on a small, busy pool.
    return Client.from_token_files(GATEWAY_URL, USER_TOKEN_FILE, ADMIN_TOKEN_FILE or None, timeout=180,
                                   retries=12, **kwargs)


class LiveTestCase(unittest.TestCase):
    client: Client

    @classmethod
    def setUpClass(cls) -> None:
        cls.client = make_client()

    def session(self) -> Session:
        session = self.client.session()
        self.addCleanup(session.release)
        return session


@needs_gateway
class LiveExecutionTest(LiveTestCase):
    def test_health(self) -> None:
        self.assertTrue(self.client.health().ok)

    def test_state_persists_between_runs(self) -> None:
        session = self.session()
        first = session.run("x = 21")
        self.assertTrue(first.new_session)
        second = session.run("print(x * 2)")
        self.assertEqual((second.stdout, second.text, second.new_session), ("42\n", "42\n", False))
        value = session.run("x + 1")
        self.assertEqual(value.value, "22")
        counted = session.run("x", store_history=True)
        self.assertGreaterEqual(counted.execution_count, 1)

    def test_an_exception_is_result_error(self) -> None:
        session = self.session()
        session.run("y = 'kept'")
        result = session.run("1/0")
        self.assertFalse(result.ok)
        self.assertEqual((result.error.ename, result.error.evalue), ("ZeroDivisionError", "division by zero"))
        self.assertTrue(all("\x1b" not in line for line in result.error.traceback))  # no colour codes
        with self.assertRaises(KernelError):
            result.raise_for_error()
        self.assertEqual(session.run("print(y)").stdout, "kept\n")  # the session survived

    def test_a_matplotlib_plot_comes_as_png_bytes(self) -> None:
        result = self.session().run("import matplotlib.pyplot as plt\n"
                                    "fig, ax = plt.subplots()\nax.plot([1, 3, 2])\nplt.show()")
        result.raise_for_error()
        self.assertEqual([image.mime_type for image in result.images], ["image/png"])
        png = result.png
        self.assertTrue(png.startswith(PNG_SIGNATURE), png[:16])
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")  # IHDR
        self.assertGreater(width * height, 0)

    def test_streaming_delivers_output_as_it_happens(self) -> None:
        code = ("import sys, time\n"
                "for i in range(3):\n"
                "    print(i, flush=True)\n"
                "    time.sleep(0.4)\n"
                "print('warn', file=sys.stderr, flush=True)\n"
                "raise ValueError('late')")
        timed = [(time.monotonic(), event) for event in self.session().stream(code)]
        events = [event for _, event in timed]
        self.assertEqual("".join(e.text for e in events if isinstance(e, StdoutEvent)), "0\n1\n2\n")
        self.assertIn(StderrEvent("warn\n"), events)
        errors = [e for e in events if isinstance(e, ErrorEvent)]
        self.assertEqual([(e.error.ename, e.error.evalue) for e in errors], [("ValueError", "late")])
        self.assertIsInstance(events[-1], ResultEvent)
        self.assertEqual(sum(isinstance(e, ResultEvent) for e in events), 1)
        self.assertEqual(events[-1].result.stdout, "0\n1\n2\n")
        first_output = next(t for t, e in timed if isinstance(e, StdoutEvent))
        self.assertGreater(timed[-1][0] - first_output, 0.6)  # the first line came while the code slept

    def test_streaming_a_value(self) -> None:
        events = list(self.session().stream("21 * 2"))
        displays = [e for e in events if isinstance(e, DisplayEvent)]
        self.assertEqual([d.output.text for d in displays], ["42"])
        self.assertEqual(events[-1].result.value, "42")

    def test_interrupt_from_another_thread(self) -> None:
        session = self.session()
        session.run("z = 5")
        outcome: Dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["result"] = session.run("import time\nprint('sleeping', flush=True)\ntime.sleep(60)")
            except GatewayError as e:
                outcome["error"] = e

        started = time.monotonic()
        thread = threading.Thread(target=run)
        thread.start()
        interrupted = False
        while not interrupted and thread.is_alive() and time.monotonic() - started < 40:
            time.sleep(0.2)
            interrupted = session.interrupt()  # False until the run has reached the kernel
        thread.join(30)
        self.assertTrue(interrupted)
        self.assertFalse(thread.is_alive())
        self.assertLess(time.monotonic() - started, 50)
        error = outcome.get("error")
        self.assertIsInstance(error, ExecutionInterruptedError, outcome)
        self.assertTrue(error.session_kept)
        self.assertEqual(error.partial_result.stdout, "sleeping\n")
        self.assertEqual(session.run("print(z)").stdout, "5\n")  # variables survive
        self.assertFalse(session.interrupt())  # nothing running now

    def test_release_on_context_exit(self) -> None:
        user = str(uuid.uuid4())
        with self.client.session(user) as session:
            self.assertTrue(session.run("w = 1").new_session)
            self.assertFalse(session.run("w += 1").new_session)
        again = self.client.session(user)
        self.addCleanup(again.release)
        fresh = again.run("print('w' in dir())")
        self.assertTrue(fresh.new_session)
        self.assertIsNone(fresh.previous_session)  # a release is not reported as a loss
        self.assertEqual(fresh.stdout, "False\n")
        self.assertTrue(again.release())
        self.assertFalse(again.release())  # nothing left to release

    def test_refusals(self) -> None:
        with self.assertRaises(AuthenticationError):
            Client(GATEWAY_URL, "not-the-token").session().run("1")
        with self.assertRaises(ValidationError) as caught:
            self.client.session("not-a-uuid").run("1")
        self.assertEqual((caught.exception.status, caught.exception.reason), (422, "validation_failed"))


@needs_gateway
class LiveFilesTest(LiveTestCase):
    def test_files_round_trip(self) -> None:
        session = self.session()
        info = session.upload("data/hello.txt", "hello\n")
        self.assertEqual((info.path, info.size, info.new_session), ("data/hello.txt", 6, True))
        blob = bytes(range(256)) * 64
        self.assertEqual(session.upload("data/blob.bin", blob, multipart=True).size, len(blob))
        seen = session.run("import hashlib\nprint(open('data/hello.txt').read(), end='')\n"
                           "print(hashlib.sha256(open('/sandbox/data/blob.bin', 'rb').read()).hexdigest())")
        self.assertEqual(seen.stdout, "hello\n" + hashlib.sha256(blob).hexdigest() + "\n")

        session.run("import os\nos.makedirs('out', exist_ok=True)\n"
                    "with open('out/result.csv', 'w') as f:\n    f.write('a,b\\n1,2\\n')").raise_for_error()
        self.assertEqual(session.download("out/result.csv"), b"a,b\n1,2\n")
        self.assertEqual(session.export("/sandbox/out/result.csv"), b"a,b\n1,2\n")
        self.assertEqual(session.download("data/blob.bin"), blob)

        with tempfile.TemporaryDirectory() as tmp:
            local = os.path.join(tmp, "local.bin")
            with open(local, "wb") as f:
                f.write(b"\x00local\xff")
            session.upload_file(local, "data/local.bin")
            back = os.path.join(tmp, "back.bin")
            self.assertEqual(session.download_file("data/local.bin", back), 7)
            with open(back, "rb") as f:
                self.assertEqual(f.read(), b"\x00local\xff")

        entries = session.list_files("data")
        self.assertEqual([(e.name, e.type) for e in entries],
                         [("blob.bin", "file"), ("hello.txt", "file"), ("local.bin", "file")])
        self.assertEqual(entries[0].size, len(blob))

        with self.assertRaises(FileConflictError) as caught:
            session.upload("data/hello.txt", b"again", overwrite=False)
        self.assertEqual(caught.exception.reason, "file_exists")
        with self.assertRaises(InvalidPathError):
            session.download("../etc/passwd")
        with self.assertRaises(NotFoundError):
            session.download("no/such/file")
        with self.assertRaises(FileConflictError) as caught:
            session.delete("out")
        self.assertEqual(caught.exception.reason, "is_a_directory")
        session.delete("out", recursive=True)
        session.delete("data/hello.txt")
        # (the kernel keeps its own dot-directories in the workspace, its home)
        self.assertEqual([e.name for e in session.list_files() if not e.name.startswith(".")], ["data"])
        self.assertEqual([e.name for e in session.list_files("data")], ["blob.bin", "local.bin"])


class FakeObjectStore:
    """Stands in for an object store's presigned URLs: GET serves objects, PUT stores the body
    under the path, POST stores a presigned-POST form's file under its "key" field."""

    def __init__(self, port: int) -> None:
        self.objects: Dict[str, bytes] = {}
        self.forms: List[Dict[str, str]] = []
        store = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        chunk = self.rfile.read(size)
                        self.rfile.readline()
                        if size == 0:
                            return data
                        data += chunk
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def answer(self, status: int, data: bytes = b"") -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                data = store.objects.get(self.path.split("?")[0].lstrip("/"))
                self.answer(404, b"no such object") if data is None else self.answer(200, data)

            def do_PUT(self) -> None:
                store.objects[self.path.split("?")[0].lstrip("/")] = self.body()
                self.answer(200)

            def do_POST(self) -> None:
                raw = b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + self.body()
                message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
                fields: Dict[str, str] = {}
                for part in message.iter_parts():
                    name = part.get_param("name", header="content-disposition")
                    if name == "file":
                        store.objects[fields["key"]] = part.get_content()
                    else:
                        fields[name] = part.get_content().strip()
                store.forms.append(fields)
                self.answer(204)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def url(self, path: str) -> str:
        return "http://127.0.0.1:%d%s" % (self.server.server_address[1], path)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@needs_gateway
@unittest.skipUnless(STORE_PORT, "real-service test: set CI_URL_STORE_PORT (allowed in files.url_allowed_private_hosts)")
class LiveUrlTransferTest(LiveTestCase):
    store: Optional[FakeObjectStore] = None

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.store = FakeObjectStore(int(STORE_PORT))

    @classmethod
    def tearDownClass(cls) -> None:
        if cls.store:
            cls.store.close()

    def test_presigned_url_transfers_both_ways(self) -> None:
        store = self.store
        assert store is not None
        store.objects["bucket/in.csv"] = b"n\n1\n2\n3\n"
        session = self.session()
        done = session.download_from_urls([UrlDownload(store.url("/bucket/in.csv?sig=abc"), "in.csv", "/sandbox/inbox/")])
        self.assertTrue(done.success)
        self.assertTrue(done.new_session)
        self.assertEqual(done.results, [{"full_path": "/sandbox/inbox/in.csv", "size": 8}])
        total = session.run("import pandas as pd\ndf = pd.read_csv('inbox/in.csv')\n"
                            "df.assign(sq=df.n ** 2).to_csv('squares.csv', index=False)\nprint(df.n.sum())")
        self.assertEqual(total.stdout, "6\n")

        sent = session.upload_to_urls([
            UrlUpload(store.url("/bucket/out/squares.csv?sig=put"), "squares.csv"),
            UrlUpload(store.url("/form"), "squares.csv", fields={"key": "bucket/form/squares.csv", "policy": "p0"}),
        ])
        self.assertTrue(sent.success)
        expected = b"n,sq\n1,1\n2,4\n3,9\n"
        self.assertEqual(store.objects["bucket/out/squares.csv"], expected)  # the PUT
        self.assertEqual(store.objects["bucket/form/squares.csv"], expected)  # the presigned POST
        self.assertEqual(store.forms[-1], {"key": "bucket/form/squares.csv", "policy": "p0"})

        with self.assertRaises(TransferError) as caught:  # the store answers 404
            session.download_from_urls([UrlDownload(store.url("/bucket/missing"), "missing")])
        self.assertEqual((caught.exception.status, caught.exception.reason), (502, "transfer_failed"))
        with self.assertRaises(UrlRefusedError):  # a loopback port the operator did not allow
            session.download_from_urls([UrlDownload("http://127.0.0.1:1/x", "x")])


@needs_gateway
@unittest.skipUnless(ADMIN_TOKEN_FILE, "real-service test: set CI_ADMIN_TOKEN_FILE")
class LiveAdminTest(LiveTestCase):
    def test_status_with_the_admin_token(self) -> None:
        session = self.session()
        session.run("1")
        status = self.client.status()
        self.assertGreaterEqual(status.sessions, 1)
        self.assertGreaterEqual(status.total_workers, 1)
        self.assertGreaterEqual(status.limits["max_total_workers"], 1)
        self.assertIn("state", status.condition)
        self.assertIn("ci_sessions", self.client.metrics())
        user_only = Client.from_token_files(GATEWAY_URL, USER_TOKEN_FILE)
        with self.assertRaises(PermissionDeniedError):
            user_only.status()


if __name__ == "__main__":
    unittest.main()
