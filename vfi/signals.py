"""Stopping on a signal.  Ctrl-C, SIGTERM and SIGHUP raise :class:`Interrupted` once, in
the main thread, and the command cleans up behind it.  Signals that come while it
cleans up (a second Ctrl-C; ``timeout``, which signals the process and then its whole
group) are counted, not raised: raising again would cut the cleanup short and leave a
temporary file behind.  The fourth signal removes the temporary files and exits at
once, for a cleanup that hangs."""

from __future__ import annotations

import os
import signal
import threading

from .errors import Interrupted
from .outputs import left_behind, remove_unfinished

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
EXIT_AT_ONCE_AFTER = 4  # signals


class StopSignals:
    """Installs the handlers (:meth:`install`) for one command and puts the previous
    ones back (:meth:`restore`)."""

    def __init__(self):
        self.received: list[int] = []
        self.previous: dict = {}

    def install(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def restore(self) -> None:
        """The previous handlers back; after a signal, this process is ending, and a
        late repeat is still only counted."""
        if not self.received:
            for sig, previous in self.previous.items():
                signal.signal(sig, previous)
        self.previous = {}

    def ignore_repeats(self) -> None:
        """For a process about to exit after a signal: later stop signals are ignored.
        Python puts the default handlers back as it shuts down, and a late repeat (the
        second half of ``timeout``'s pair) would then kill it with a signal instead of
        letting it exit 128 + the first signal."""
        if self.received and threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                signal.signal(sig, signal.SIG_IGN)

    def _handle(self, signum, frame) -> None:
        self.received.append(signum)
        if len(self.received) == 1:
            raise Interrupted(signum)
        if len(self.received) >= EXIT_AT_ONCE_AFTER:
            os.write(2, f"vfi: stopped at once; {left_behind(remove_unfinished())}\n".encode())
            os._exit(128 + self.received[0])
