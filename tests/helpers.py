"""Helpers shared by the test modules (``tests/`` is on ``sys.path`` under pytest)."""


def error_line(capsys):
    """The one line a command printed on stderr for a user error: no traceback, one line."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]
