"""The curation method as a library: arrays in, arrays and frozen dataclasses out.

This package never imports Django or Celery; ``curation`` calls it.
"""
