"""Running work in several threads at once, each on its own database connection."""

import threading

from django.db import connection


def at_once(work, count: int) -> list:
    """Run ``work(i)`` in ``count`` threads released together; their results, in order."""
    barrier, results = threading.Barrier(count), [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as error:  # reported by the test, not lost in the thread
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
