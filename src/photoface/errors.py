"""Exceptions that carry a message meant for the user.

The CLI prints these without a traceback; everything else is a bug and keeps its traceback.
"""


class PhotofaceError(Exception):
    """Base class: a problem with the user's input (file, argument, dataset, checkpoint)."""


class InputFileError(PhotofaceError):
    """A file the user gave cannot be used. The message names the file and the problem."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
