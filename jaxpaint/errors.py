"""User-facing errors: the CLI prints them as one line and exits non-zero."""


class JaxpaintError(Exception):
    """Bad input or a failed precondition that the user can fix. The message names the file and the problem."""


class TrainingStopped(JaxpaintError):
    """The run diverged or collapsed; its last good checkpoint is kept."""
