from django.apps import AppConfig
from django.core import checks


class CurationConfig(AppConfig):
    name = "curation"
    verbose_name = "Face Curation"

    def ready(self) -> None:
        from django.contrib import admin

        from curation.accounts import login_throttle

        checks.register(scoring_models_check, "models")
        admin.site.login_form = login_throttle.ThrottledAdminLoginForm


def scoring_models_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The scoring model files load: a bad setting stops ``runapp``/``runserver`` at start."""
    from curation.scoring_runs.extractors import model_problems

    return [checks.Error(problem, id="curation.E001") for problem in model_problems()]
