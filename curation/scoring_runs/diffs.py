"""Two scoring runs side by side: what they used differently, which picks changed, and why,
and how people judged each run's picks."""

from __future__ import annotations

from dataclasses import dataclass

from curation.models import Face, ScoringRun, Selection
from curation.scoring_runs.judged import JudgedDiff, runs_judged


@dataclass(frozen=True)
class PickChange:
    cluster: str
    selector: str
    face_a: int | None
    face_b: int | None
    why: str


@dataclass(frozen=True)
class RunsDiff:
    used: list[str]  # what the runs used differently, one line each
    changes: list[PickChange]
    unchanged: int
    judged: JudgedDiff


def _flat(record: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in record.items():
        if isinstance(value, dict) and key != "params":
            flat |= _flat(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def record_differences(a: dict, b: dict) -> list[str]:
    flat_a, flat_b = _flat(a), _flat(b)
    lines = []
    for key in sorted(set(flat_a) | set(flat_b)):
        before, after = flat_a.get(key, "—"), flat_b.get(key, "—")
        if before != after:
            lines.append(f"{key}: {_short(before)} → {_short(after)}")
    return lines


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= 120 else text[:117] + "…"


def _filtering_why(a: dict, b: dict) -> str:
    """The first stage of the filter whose outcome differs."""
    stages_a, stages_b = (
        a.get("details", {}).get("stages", []),
        b.get("details", {}).get("stages", []),
    )
    for number, (one, two) in enumerate(zip(stages_a, stages_b, strict=False), start=1):
        if one != two:
            if one["feature"] != two["feature"]:
                return f"stage {number} filters by {two['feature']} instead of {one['feature']}"
            return (
                f"stage {number} ({one['feature']}): {one['survivors']} → {two['survivors']} faces "
                f"left, best face {one['best_face']} → {two['best_face']}"
            )
    if len(stages_a) != len(stages_b):
        return f"{len(stages_a)} → {len(stages_b)} stages"
    return ""


def _why(selector: str, cluster_id: str, pick_a: dict, pick_b: dict, run_a, run_b) -> str:
    if not pick_a or not pick_b:
        missing = run_a if not pick_a else run_b
        return f"run {missing.pk} made no pick here" + (
            " (it recomputed other clusters only)"
            if missing.clusters and int(cluster_id) not in missing.clusters
            else ""
        )
    reasons = []
    if not Face.objects.filter(pk=pick_a["face"], cluster_id=int(cluster_id)).exists():
        reasons.append(f"face {pick_a['face']} is no longer in this cluster")
    if selector == Selection.Selector.FILTERING:
        stage = _filtering_why(pick_a, pick_b)
        config_a = run_a.record.get("selectors", {}).get("filtering", {}).get("config")
        config_b = run_b.record.get("selectors", {}).get("filtering", {}).get("config")
        if config_a != config_b:
            reasons.append(f"filter config {config_a} → {config_b}")
        if stage:
            reasons.append(stage)
    if selector == Selection.Selector.REGRESSION:
        model_a = run_a.record.get("quality_model", {}).get("version")
        model_b = run_b.record.get("quality_model", {}).get("version")
        if model_a != model_b:
            reasons.append(f"quality model v{model_a} → v{model_b}")
        quality = dict(
            Face.objects.filter(pk__in=[pick_a["face"], pick_b["face"]]).values_list(
                "pk", "quality"
            )
        )
        if all(quality.get(pick["face"]) is not None for pick in (pick_a, pick_b)):
            reasons.append(
                f"quality now {quality[pick_a['face']]:.4f} against {quality[pick_b['face']]:.4f}"
            )
    if run_a.record.get("feature_version") != run_b.record.get("feature_version"):
        reasons.append("the features were measured by other extractors")
    return (
        "; ".join(reasons) or "same rule and settings: the cluster's faces or their scores changed"
    )


def runs_diff(run_a: ScoringRun, run_b: ScoringRun) -> RunsDiff:
    changes, unchanged = [], 0
    clusters = sorted(set(run_a.picks) | set(run_b.picks), key=int)
    for cluster_id in clusters:
        picks_a, picks_b = run_a.picks.get(cluster_id, {}), run_b.picks.get(cluster_id, {})
        label = picks_b.get("label") or picks_a.get("label") or cluster_id
        for selector in Selection.Selector.values:
            pick_a, pick_b = picks_a.get(selector, {}), picks_b.get(selector, {})
            face_a, face_b = pick_a.get("face"), pick_b.get("face")
            if face_a == face_b:
                unchanged += face_a is not None
                continue
            why = _why(selector, cluster_id, pick_a, pick_b, run_a, run_b)
            changes.append(PickChange(label, selector, face_a, face_b, why))
    used = record_differences(run_a.record, run_b.record)
    return RunsDiff(used, changes, unchanged, runs_judged(run_a, run_b))
