"""The one exception a user of the command line should ever see."""

__all__ = ["UserError", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE"]

#: Exit status: everything ran and every check passed.
EXIT_OK = 0
#: Exit status: the run finished but a check failed (RTL differs from the models).
EXIT_FAILED = 1
#: Exit status: bad input (an option, a file); a one-line message says what.
EXIT_USAGE = 2


class UserError(Exception):
    """Bad input from the user. The command line prints it as one line and exits with 2.

    The message names the parameter and the value, e.g.
    ``--density must be in (0, 1], not 1.5``.
    """
