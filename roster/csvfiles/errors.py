class FileRefused(Exception):
    """The file cannot be imported at all; the message says why, in words a person can act on."""
