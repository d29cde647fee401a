"""Kernel-side pieces of the code-interpreter worker, loaded by ipykernel through its configuration
(the agent starts the kernel with --IPKernelApp.kernel_class=ci_kernel.LeanKernel and
--IPKernelApp.outstream_class=ci_kernel.LeanOutStream).

Written against the ipykernel of the worker image (Debian 12: ipykernel 6.17); the image build
imports this module, so a package update that breaks it fails the build, not a user's session.
"""

from ipykernel.iostream import OutStream
from ipykernel.ipkernel import IPythonKernel


class LeanKernel(IPythonKernel):
    """ipykernel's kernel without the two iopub broadcasts no one here reads.

    The worker's agent is the kernel's only client. It finds an execution's end by the idle status
    and the reply, so the `execute_input` echo of the code and the `busy` status are two more
    messages per execution for the kernel to serialise, sign and send and for the agent to check
    and drop (about 0.4 ms of the kernel's CPU per trivial execution, measured on the 2-core
    development machine).
    """

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
