"""The one error type for bad input: a file, a setting or a value the user gave.

Its message names the input and says what is wrong with it, in one line, so the command line
prints it as it is (with ``--debug``, with its traceback). Every other exception is a bug or an
accident, and keeps its traceback. It is a ValueError, so ``except ValueError`` still catches it.
"""


class InputError(ValueError):
    """Bad input from the user; the message names it (file, row, column, shape) and the fix."""
