class FileRefused(Exception):
    """The file cannot be imported at all; the message says why, in words a person can act on."""


class LimitExceeded(FileRefused):
    """The file passes one of the configured limits (roster.runtime.settings.FileLimits).

    too_large: the limit is one of size (the API answers 413, else 422)."""

    def __init__(self, message: str, too_large: bool = False):
        super().__init__(message)
        self.too_large = too_large
