"""Turning an exception into the one line a person is shown, and into the log's lines."""

import logging


def first_line(error: BaseException) -> str:
    """The first line of the error's message, or its type's name when it has none."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


class ForbiddenWithoutTraceback(logging.Filter):
    """A 403 is an ordinary answer (a person without the role): log its line, not a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True
