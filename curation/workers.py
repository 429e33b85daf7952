"""How this app starts a Celery worker process (the embedded app, score_title, the tests)."""

import sys

QUEUES = "gpu,cpu"


def worker_argv(
    *, hostname: str, loglevel: str = "INFO", quiet: bool = False, queues: str = QUEUES
) -> list[str]:
    """One solo worker, on both queues unless told (``queues``: comma-separated): one task at a
    time, so torch gets the cores."""
    return [
        sys.executable,
        "-m",
        "celery",
        *(["--quiet"] if quiet else []),
        "-A",
        "curation",
        "worker",
        "--queues",
        queues,
        "--pool",
        "solo",
        "--loglevel",
        loglevel,
        "--hostname",
        hostname,
    ]
