#!/usr/bin/env python3
"""A minimal agent loop on the code_interpreter_client package, without a model.

An LLM agent alternates between emitting a tool call and reading its result. Here a scripted
"model" plays the LLM's part: it emits the tool calls one at a time, reads each observation the
way a model would (text only, images reduced to a note), fixes the error its own code made, makes
a plot, saves a file and downloads it. Every step states what it expects; the program exits 1 at
the first step whose observation differs, or when the gateway refuses a call.

    python3 -m pip install --no-build-isolation ./clients/python    # or PYTHONPATH=clients/python/src
    python3 examples/agent_loop.py --url http://127.0.0.1:3874 --token-file var/auth_token.txt
"""

import argparse
import os
import sys
import tempfile
from typing import Any, Callable, Dict, Generator, List, Optional, Tuple

try:
    from code_interpreter_client import Client, CodeInterpreterError, Session
except ImportError:  # not installed: use the package from this repository
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python", "src"))
    from code_interpreter_client import Client, CodeInterpreterError, Session

Call = Tuple[str, Dict[str, Any]]
Observation = Dict[str, Any]

# What a model would be told about its tools (shown for the shape; nothing here parses it).
TOOL_SPECS: List[Dict[str, Any]] = [
    {"name": "run_python", "description": "Run Python in a persistent Jupyter kernel; files live in /sandbox.",
     "parameters": {"code": "string"}},
    {"name": "list_files", "description": "List a directory of the workspace.", "parameters": {"path": "string"}},
    {"name": "download_file", "description": "Fetch a workspace file for the user.", "parameters": {"path": "string"}},
]

MAX_OBSERVATION_CHARS = 2000  # a model's context is finite: long output is cut, as agents do


class StepFailed(Exception):
    pass


class Tools:
    """The tools the model may call, each answering a JSON-able observation."""

    def __init__(self, session: Session, out_dir: str) -> None:
        self.session = session
        self.out_dir = out_dir
        self.images = 0

    def run_python(self, code: str) -> Observation:
        result = self.session.run(code)
        saved = []
        for image in result.images:
            # The model gets a note; the bytes go where the user can see them.
            self.images += 1
            path = os.path.join(self.out_dir, "image-%d.%s" % (self.images, image.mime_type.split("/")[-1]))
            image.save(path)
            saved.append({"type": image.mime_type, "bytes": image.size, "saved_to": path})
        return {"output": result.text[-MAX_OBSERVATION_CHARS:],
                "error": "%s: %s" % (result.error.ename, result.error.evalue) if result.error else None,
                "images": saved, "png": result.png}

    def list_files(self, path: str = ".") -> Observation:
        return {"entries": [{"name": e.name, "type": e.type, "size": e.size} for e in self.session.list_files(path)]}

    def download_file(self, path: str) -> Observation:
        local = os.path.join(self.out_dir, os.path.basename(path))
        size = self.session.download_file(path, local)
        with open(local, "rb") as f:
            head = f.read(MAX_OBSERVATION_CHARS).decode("utf-8", errors="replace")
        return {"saved_to": local, "size": size, "head": head}


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise StepFailed(what)


def scripted_model() -> Generator[Call, Observation, None]:
    """Stands in for the LLM: yields tool calls, receives each observation, decides the next."""
    seen = yield ("run_python", {"code": (
        "import pandas as pd\n"
        "sales = pd.DataFrame({'region': ['north', 'south', 'north', 'east', 'south'],\n"
        "                      'revenue': [120, 80, 150, 60, 95], 'cost': [70, 50, 90, 40, 55]})\n"
        "print(sales.shape)")})
    expect(seen["error"] is None and "(5, 3)" in seen["output"], "the data loads")

    # A slip a model makes: the wrong column name. It sees the KeyError and corrects itself.
    buggy = "sales['margin'] = sales.revenue - sales.cost\nprint(sales.groupby('regoin').margin.sum())"
    seen = yield ("run_python", {"code": buggy})
    expect(seen["error"] is not None and seen["error"].startswith("KeyError"), "the typo raises KeyError")
    fixed = buggy.replace("'regoin'", "'region'")
    seen = yield ("run_python", {"code": fixed})
    expect(seen["error"] is None and "north    110" in seen["output"], "margins by region")

    seen = yield ("run_python", {"code": (
        "import matplotlib.pyplot as plt\n"
        "totals = sales.groupby('region').margin.sum()\n"
        "ax = totals.plot.bar(title='Margin by region')\n"
        "ax.figure.savefig('report_margin.png')\n"
        "plt.show()")})
    expect(seen["error"] is None and seen["png"] is not None and seen["png"].startswith(b"\x89PNG\r\n\x1a\n"),
           "the plot comes back as a PNG")

    seen = yield ("run_python", {"code": (
        "import os\n"
        "os.makedirs('report', exist_ok=True)\n"
        "totals.to_csv('report/margin_by_region.csv')\n"
        "os.replace('report_margin.png', 'report/margin.png')\n"
        "print(sorted(os.listdir('report')))")})
    expect(seen["error"] is None, "the report is written")

    seen = yield ("list_files", {"path": "report"})
    names = [e["name"] for e in seen["entries"]]
    expect(names == ["margin.png", "margin_by_region.csv"], "the report directory lists both files")

    seen = yield ("download_file", {"path": "report/margin_by_region.csv"})
    expect(seen["head"].splitlines() == ["region,margin", "east,20", "north,110", "south,70"],
           "the downloaded CSV holds the margins")


def show(label: str, value: Any) -> None:
    """Prints a call or an observation for people: one field per line, texts as indented blocks."""
    print(label)
    fields = value.items() if isinstance(value, dict) else [("", value)]
    for key, item in fields:
        if isinstance(item, str) and "\n" in item.rstrip():
            lines = item.rstrip().splitlines()
            if len(lines) > 12:  # long tracebacks: their end says what happened
                lines = ["..."] + lines[-10:]
            print("    %s\n%s" % (key + ":" if key else "", "\n".join("      " + line for line in lines)))
        else:
            print("    %s %s" % (key + ":" if key else "", item.rstrip() if isinstance(item, str) else repr(item)))


def agent_loop(session: Session, out_dir: str) -> int:
    toolbox = Tools(session, out_dir)
    tools: Dict[str, Callable[..., Observation]] = {spec["name"]: getattr(toolbox, spec["name"]) for spec in TOOL_SPECS}
    model = scripted_model()
    step = 0
    try:
        call: Optional[Call] = next(model)
        while call is not None:
            step += 1
            name, arguments = call
            show("[%d] call %s" % (step, name), arguments)
            observation = tools[name](**arguments)
            shown = {k: v for k, v in observation.items() if k != "png"}  # bytes are not for the model
            show("[%d] observation" % step, shown)
            try:
                call = model.send(observation)
            except StopIteration:
                call = None
    except StepFailed as e:
        print("agent loop FAILED at step %d: expected %s" % (step, e))
        return 1
    except CodeInterpreterError as e:
        print("agent loop FAILED at step %d: %s: %s" % (step, type(e).__name__, e))
        return 1
    print("agent loop finished: %d steps, outputs in %s" % (step, out_dir))
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="A scripted agent loop against the code-interpreter gateway.")
    parser.add_argument("--url", default="http://127.0.0.1:3874", help="the gateway's base URL")
    parser.add_argument("--token-file", required=True, help="a file holding the user token")
    parser.add_argument("--out-dir", help="where images and downloads go (default: a new temporary directory)")
    args = parser.parse_args(argv)

    out_dir = args.out_dir or tempfile.mkdtemp(prefix="agent-loop-")
    os.makedirs(out_dir, exist_ok=True)
    try:
        client = Client.from_token_files(args.url, args.token_file, timeout=180)
    except OSError as e:  # the token file
        print("agent loop FAILED: %s" % e)
        return 1
    try:
        with client.session() as session:  # released at the end, whatever happened
            status = agent_loop(session, out_dir)
    except CodeInterpreterError as e:  # agent_loop reports its own: only the release gets here
        print("agent loop: releasing the session failed: %s: %s" % (type(e).__name__, e))
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
