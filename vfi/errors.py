"""Errors that the CLI turns into one-line messages and exit codes.

Exit codes (documented in the README):
    0  success
    1  the job failed (bad or corrupt input, write failure, ...)
    2  usage error (bad option values; Click's own convention)
    130 interrupted (Ctrl-C); 143 terminated (SIGTERM), 129 hung up (SIGHUP): the
        partial output is removed (training saves a checkpoint)
"""


class VfiError(Exception):
    """A problem the user can fix; its message is shown as one line."""

    exit_code = 1


class UsageError(VfiError):
    """An option value that cannot work (e.g. a target fps below the source)."""

    exit_code = 2


class InputError(VfiError):
    """The input cannot be read, is not a video, or is corrupt."""


class OutputError(VfiError):
    """The output cannot be written."""


class CorruptInputError(InputError):
    """Part of the input could not be decoded; carries how far decoding got."""

    def __init__(self, message: str, frames_decoded: int):
        super().__init__(message)
        self.frames_decoded = frames_decoded


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, SIGTERM or SIGHUP: the command stops, cleans up and exits 128 + signal.
    ``message`` says what was kept (a training checkpoint) or that nothing was."""

    def __init__(self, signum: int = 2, message: str | None = None):
        super().__init__(signum)
        self.signum = signum
        self.message = message

    @property
    def exit_code(self) -> int:
        return 128 + self.signum
