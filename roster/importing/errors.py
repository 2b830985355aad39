"""The import core's refusals."""


class ImportRefused(ValueError):
    """The import cannot start; nothing was written. The message says why.

    too_large: refused for a size limit (the API answers 413 rather than 422)."""

    def __init__(self, message: str, too_large: bool = False):
        super().__init__(message)
        self.too_large = too_large
