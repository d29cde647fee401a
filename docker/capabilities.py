"""Runs the checks of docker/capabilities.txt, and renders docs/capabilities.md from their results.

    python3 capabilities.py check PROFILE < capabilities.txt
        runs the items of PROFILE (standard: its own; full: all) in this interpreter, one JSON
        object a line on stdout, prefixed with RESULT_PREFIX;
    python3 capabilities.py markdown RESULTS... < capabilities.txt
        writes the document from the outputs of `check` (docker/capabilities.sh runs both).

tests/integration/capabilities_test.cpp execs this file inside a worker's kernel and calls run().
"""
import contextlib
import importlib.metadata
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

KINDS = ("python-module", "command", "absent")
PROFILES = ("standard", "full")
RESULT_PREFIX = "@capability "
COMMAND_TIMEOUT_S = 120


def parse(text):
    """The items of capabilities.txt, in order; raises ValueError naming a malformed line."""
    items = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = [field.strip() for field in line.split("|", 4)]
        if len(fields) != 5 or not all(fields):
            raise ValueError(f"capabilities.txt line {number}: expected kind | name | package | profile | check")
        kind, name, package, profile, snippet = fields
        if kind not in KINDS or profile not in PROFILES:
            raise ValueError(f"capabilities.txt line {number}: kind {kind!r} or profile {profile!r} unknown")
        package, _, origin = package.partition("/")
        items.append({"kind": kind, "name": name, "package": package, "origin": origin or "bookworm",
                      "profile": profile, "check": snippet})
    return items


def in_profile(item, profile):
    return item["profile"] == "standard" or profile == "full"


def run_python(code):
    out = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        warnings.simplefilter("always")
        exec(compile(code, "<check>", "exec"), {"__name__": "__check__"})
    # A UserWarning means something did not work as asked (matplotlib's missing glyph is one);
    # deprecation notices do not count.
    for warning in caught:
        if issubclass(warning.category, UserWarning):
            raise AssertionError(f"{warning.category.__name__}: {warning.message}")


def run_command(line):
    done = subprocess.run(line, shell=True, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=COMMAND_TIMEOUT_S)
    if done.returncode != 0:
        output = (done.stderr or done.stdout).decode(errors="replace").strip()
        raise AssertionError(f"exit status {done.returncode}: {output[-300:]}")


def package_version(package):
    if package == "-":
        return ""
    done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


def module_version(name):
    """The version of the distribution holding an imported module (some modules' own __version__
    lags behind: regex says 2.5.123), else its __version__; "" when unknown."""
    for distribution in importlib.metadata.packages_distributions().get(name, []):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            return importlib.metadata.version(distribution)
    version = getattr(sys.modules.get(name), "__version__", None)
    return version if isinstance(version, str) else ""


def upstream(debian_version):
    """1:1.24.2-1+b1 -> 1.24.2"""
    version = debian_version.split(":", 1)[-1]
    return version.rsplit("-", 1)[0] if "-" in version else version


def check(item):
    result = {"kind": item["kind"], "name": item["name"], "ok": False, "detail": ""}
    start = time.monotonic()
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="capability-") as work:
        os.chdir(work)
        try:
            (run_python if item["kind"] == "python-module" else run_command)(item["check"])
            result["ok"] = True
        except BaseException as error:  # SystemExit and timeouts too: the check failed, the run goes on
            result["detail"] = f"{type(error).__name__}: {error}"[:500]
        finally:
            os.chdir(cwd)
    result["seconds"] = round(time.monotonic() - start, 2)
    result["package_version"] = package_version(item["package"])
    version = module_version(item["name"]) if item["kind"] == "python-module" else ""
    result["version"] = version or upstream(result["package_version"])
    return result


def run(text, profile, kinds=("python-module", "command")):
    """Checks the items of profile whose kind is in kinds; prints and returns their results."""
    results = []
    for item in parse(text):
        if item["kind"] in kinds and in_profile(item, profile):
            results.append(check(item))
            print(RESULT_PREFIX + json.dumps(results[-1], ensure_ascii=False), flush=True)
    return results


NOTES = """\
## Notes

- **Chinese text.** Both profiles have the WenQuanYi Micro Hei font. `/etc/matplotlibrc` makes it
  matplotlib's default family (`font.family: WenQuanYi Micro Hei, DejaVu Sans`: DejaVu Sans supplies
  the symbols it lacks) with `axes.unicode_minus: False`, so Chinese titles and labels render with no
  code at kernel start, also after the usual `rcParams["font.sans-serif"] = ["SimHei"]` (SimHei is
  not installed; setting `font.family` to `"sans-serif"` as well would lose the CJK font). LibreOffice,
  Chromium and reportlab (register `/usr/share/fonts/truetype/wqy/wqy-microhei.ttc`) use it too.
- **Chromium.** `chromium` (in `/usr/local/bin`) runs the headless shell with the flags the worker
  needs: `--no-sandbox` (no user namespaces, no setuid helper in the worker), `--disable-gpu`, and
  `--enable-logging=stderr --log-level=3` so D-Bus complaints stay quiet (a later `--log-level=0`
  brings them back). Use it as `chromium --screenshot=/sandbox/a.png file:///sandbox/a.html` or
  `chromium --print-to-pdf=/sandbox/a.pdf URL`. `/dev/shm` is 64 MB.
- **LibreOffice.** `soffice --headless --convert-to pdf|docx|xlsx|pptx FILE` (Writer, Calc, Impress
  without their GUI); its profile goes to `$HOME/.config/libreoffice` in the workspace. The first
  conversion of a session takes a few seconds. "failed to launch javaldx" is harmless (no Java).
- **OCR.** `tesseract IMAGE - -l eng+chi_sim`; the languages are eng, chi_sim and osd. There is no
  pytesseract: call the program through `subprocess`.
- **pandoc** writes docx, odt, html, markdown, epub...; PDF output needs LaTeX, which is absent
  (convert the docx with LibreOffice instead).
- **ImageMagick and Wand** may read and write PDF and PostScript (Debian's policy forbids it; in the
  sandbox, user code can run Ghostscript directly anyway).
- **From Debian 13.** moviepy, imageio (2.37, needed by moviepy 2; scikit-image works with it),
  imageio-ffmpeg and pypinyin are Debian 13's pure-Python packages, installed with `dpkg -i` on
  Debian 12 (their dependencies are all met by Debian 12's packages). moviepy prints ffmpeg's
  metadata when it opens a video (upstream behaviour of 2.1).
- **No network** in the worker: requests, httpx and aiohttp are there for code that talks to
  loopback servers or runs with `enable_internet`; `npm install` cannot fetch packages.
- Faker is Debian 12's 0.9.3 (2018); xlrd is 1.2 (reads .xls and .xlsx).
"""


def markdown(text, result_files):
    items = parse(text)
    images, results = {}, {}
    for path in result_files:
        profile = None
        with open(path, encoding="utf-8") as file:
            # The image's description (a record with "image" and "profile"), then the results;
            # lines without the prefix are other output of the checks.
            for line in file:
                if not line.startswith(RESULT_PREFIX):
                    continue
                record = json.loads(line[len(RESULT_PREFIX):])
                if "image" in record:
                    profile = record["profile"]
                    images[profile] = record
                elif profile is None:
                    raise ValueError(f"{path}: a result before the image's description")
                else:
                    results[(profile, record["kind"], record["name"])] = record

    def cell(item, profile):
        if not in_profile(item, profile):
            return "—"
        if profile not in images:
            return "not built"
        record = results.get((profile, item["kind"], item["name"]))
        return "yes" if record and record["ok"] else "**FAILED**"

    def versions(item):
        for profile in reversed(PROFILES):
            record = results.get((profile, item["kind"], item["name"]))
            if record:
                return record["version"], record["package_version"]
        return "", ""

    out = ["# Capabilities of the worker image", "",
           "Generated by `docker/capabilities.sh` from `docker/capabilities.txt`: each line below is a",
           "check (a tiny real use) run as the sandbox user, without network, in the built image. Do not",
           "edit by hand: change capabilities.txt (these notes: capabilities.py) or the Dockerfile, and",
           "run the script again.", "",
           "| profile | image | built with | size | checks passed |", "|---|---|---|---|---|"]
    for profile in PROFILES:
        image = images.get(profile)
        build = "`docker/build-image.sh" + ("" if profile == "standard" else f" --profile {profile}") + "`"
        if not image:
            out.append(f"| {profile} | not built | {build} | | |")
            continue
        mine = [r for (p, _, _), r in results.items() if p == profile]
        out.append(f"| {profile} | `{image['image']}` ({image['id'][7:19]}) | {build} "
                   f"| {image['size'] / 1e6:.0f} MB | {sum(r['ok'] for r in mine)} of {len(mine)} |")
    out += ["", "The standard profile is the lean default; full adds everything marked full. Both are",
            "Debian 12 (bookworm) with Python 3.11; \"Debian 13\" marks packages taken from trixie.", ""]

    out += ["## Python modules", "", "| import | version | Debian package | standard | full |",
            "|---|---|---|---|---|"]
    for item in items:
        if item["kind"] == "python-module":
            version, package_version = versions(item)
            origin = " (Debian 13)" if item["origin"] == "trixie" else ""
            out.append(f"| `{item['name']}` | {version} | {item['package']} {package_version}{origin} "
                       f"| {cell(item, 'standard')} | {cell(item, 'full')} |")
    out += ["", "## Programs", "", "| program | version | Debian package | standard | full |",
            "|---|---|---|---|---|"]
    for item in items:
        if item["kind"] == "command":
            version, package_version = versions(item)
            out.append(f"| `{item['name']}` | {version} | {item['package']} {package_version} "
                       f"| {cell(item, 'standard')} | {cell(item, 'full')} |")
    out += ["", "## Absent, and why", "", "| library | why |", "|---|---|"]
    for item in items:
        if item["kind"] == "absent":
            out.append(f"| {item['name']} | {item['check']} |")
    failed = [(p, k, n, r["detail"]) for (p, k, n), r in results.items() if not r["ok"]]
    if failed:
        out += ["", "## Failed checks", ""]
        out += [f"- {p}: {k} `{n}`: {detail}" for p, k, n, detail in failed]
    out += ["", NOTES]
    return "\n".join(out)


def main(argv):
    if len(argv) == 3 and argv[1] == "check" and argv[2] in PROFILES:
        results = run(sys.stdin.read(), argv[2])
        return 0 if all(r["ok"] for r in results) else 1
    if len(argv) >= 3 and argv[1] == "markdown":
        sys.stdout.write(markdown(sys.stdin.read(), argv[2:]))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
