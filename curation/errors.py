"""Turning an exception into the one line a person is shown."""


def first_line(error: BaseException) -> str:
    """The first line of the error's message, or its type's name when it has none."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
