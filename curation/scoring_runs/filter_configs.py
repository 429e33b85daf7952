"""The filtering selector's stages (the active filter config) and the FaceQNet guards."""

from __future__ import annotations

from django.conf import settings

from curation.models import FilterConfig
from scoring.selectors import DEFAULT_STAGES, FIQA_GUARDS, FilterStage


def parse_filter_stages(stages: object) -> tuple[FilterStage, ...]:
    """Stages stored as a list of {feature, threshold, top, percentile}; raises ValueError."""
    if not isinstance(stages, list) or not stages:
        raise ValueError("expected a non-empty list of stages")
    try:
        return tuple(FilterStage(**stage) for stage in stages)
    except TypeError as error:
        raise ValueError(
            f"each stage is {{feature, threshold, top, percentile}}: {error}"
        ) from None


def filter_stages() -> tuple[str, tuple[FilterStage, ...]]:
    config = FilterConfig.objects.filter(is_active=True).first()
    if config is None:
        return "filtering:default", DEFAULT_STAGES
    return f"filtering:{config.pk}", parse_filter_stages(config.stages)


def fiqa_guards() -> tuple[FilterStage, ...]:
    """The FaceQNet selector's guard stages that ``FIQA_SELECTOR_GUARDS`` names."""
    return tuple(stage for stage in FIQA_GUARDS if stage.feature in settings.FIQA_SELECTOR_GUARDS)
