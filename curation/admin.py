"""Django looks for admin registrations here; each feature registers its own pages."""

from curation.catalog import admin as catalog_admin
from curation.imports import admin as imports_admin
from curation.review import admin as review_admin
from curation.scoring_runs import admin as scoring_admin

__all__ = ["catalog_admin", "imports_admin", "review_admin", "scoring_admin"]
