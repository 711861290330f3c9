"""The one error type for bad input: a file, a setting or a value the user gave.

Its message names the input and says what is wrong with it, in one line, so the command line
prints it as it is (with ``--debug``, with its traceback). Every other exception is a bug or an
accident, and keeps its traceback. It is a ValueError, so ``except ValueError`` still catches it.
"""


class InputError(ValueError):
    """Bad input from the user; the message names it (file, row, column, shape) and the fix."""


def reason(error, last=False):
    """The first (``last``: the last) non-empty line of a library's exception, to quote in an
    InputError; its type's name when it says nothing. OpenCV puts its message on the last line."""
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return (lines[-1] if last else lines[0]) if lines else type(error).__name__
