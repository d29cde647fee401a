"""Kernel-side pieces of the code-interpreter worker, loaded by ipykernel through its configuration
(the agent starts the kernel with --IPKernelApp.kernel_class=ci_kernel.LeanKernel and
--IPKernelApp.outstream_class=ci_kernel.LeanOutStream, and with the worker's preload list as
--IPKernelApp.exec_lines=__import__('ci_kernel').preload([...])).

Written against the ipykernel of the worker image (Debian 12: ipykernel 6.17); the image build
imports this module, so a package update that breaks it fails the build, not a user's session.
"""

import glob
import importlib
import os
import shutil
import sys
import tempfile
import traceback

from ipykernel.iostream import OutStream
from ipykernel.ipkernel import IPythonKernel

# The exit status of a kernel whose preload failed (the agent's kPreloadFailedExit).
PRELOAD_FAILED = 86

# The image's matplotlib font list, built when the image was (docker/Dockerfile, CI_MPL_FONTCACHE).
MATPLOTLIB_FONT_CACHE = "/usr/local/share/ci-matplotlib"


def _private_matplotlib_dir():
    """Gives matplotlib a writable config and cache directory holding the image's font list.

    Without one matplotlib finds no writable place (the image is read-only, the home is the user's
    workspace), warns into the user's first plotting cell and rebuilds the font list in every
    kernel (65-420 ms, docker/Dockerfile). A private directory in the worker's /tmp costs a copy
    of one small file.
    """
    if "MPLCONFIGDIR" in os.environ:
        return
    directory = tempfile.mkdtemp(prefix="matplotlib-")
    for font_list in glob.glob(os.path.join(MATPLOTLIB_FONT_CACHE, "fontlist-v*.json")):
        shutil.copy(font_list, directory)
    os.environ["MPLCONFIGDIR"] = directory


def _warm_matplotlib():
    """What a first plot would otherwise pay for: the inline backend (the backend ipykernel names in
    MPLBACKEND) loaded and hooked into the shell, and a small plot with the default font drawn and
    written as PNG once, outside pyplot (no figure is left for the inline backend to show)."""
    import io

    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    plt.switch_backend(matplotlib.get_backend())
    figure = Figure(figsize=(2, 2))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1])
    axes.set_title("Aa")
    figure.savefig(io.BytesIO(), format="png")


def preload(modules):
    """Imports modules (the worker's preload list) before the kernel serves, so that a session's
    first cell does not pay for them. Nothing is bound in the user's namespace.

    A module that cannot be imported ends the kernel with PRELOAD_FAILED: the worker never becomes
    ready, the gateway reports why, and the traceback is on the kernel's standard error (the
    worker's log) rather than hidden in a session.
    """
    for name in modules:
        try:
            importlib.import_module(name)
        except BaseException:
            os.write(2, ("ci_kernel: preload: cannot import %s:\n%s" % (name, traceback.format_exc())).encode())
            os._exit(PRELOAD_FAILED)
    if "matplotlib.pyplot" in sys.modules:
        _warm_matplotlib()


class LeanKernel(IPythonKernel):
    """ipykernel's kernel without the two iopub broadcasts no one here reads, and with a private
    matplotlib directory (_private_matplotlib_dir).

    The worker's agent is the kernel's only client. It finds an execution's end by the idle status
    and the reply, so the `execute_input` echo of the code and the `busy` status are two more
    messages per execution for the kernel to serialise, sign and send and for the agent to check
    and drop (about 0.4 ms of the kernel's CPU per trivial execution, measured on the 2-core
    development machine).
    """

    def __init__(self, **kwargs):
        _private_matplotlib_dir()
        super().__init__(**kwargs)

    def _publish_execute_input(self, code, parent, execution_count):
        pass

    def _publish_status(self, status, channel, parent=None):
        if status != "busy":
            super()._publish_status(status, channel, parent)


class LeanOutStream(OutStream):
    """ipykernel's stdout/stderr, minus the flushes that have nothing to flush.

    ipykernel flushes both streams three times per execution (before the result, before the reply,
    before the idle status), and every flush from the main thread is a round trip through the IOPub
    thread even when nothing was written: six thread hand-offs per execution, about 1.5 ms of the
    kernel's ~4 ms of CPU for a trivial cell on the 2-core development machine.

    Skipping a flush of an empty buffer changes nothing a client sees: text written earlier has
    already been handed to the IOPub thread, whose queue also carries every later message (results,
    displays, the idle status) in order. A non-empty buffer is flushed exactly as before.
    """

    def flush(self):
        with self._buffer_lock:
            empty = self._buffer.tell() == 0
        if not empty:
            super().flush()
