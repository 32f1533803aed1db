"""Errors that the CLI turns into one-line messages and exit codes.

Exit codes (documented in the README):
    0  success
    1  the job failed (bad or corrupt input, write failure, ...)
    2  usage error (bad option values; Click's own convention)
    130 interrupted (Ctrl-C); the partial output is removed
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
