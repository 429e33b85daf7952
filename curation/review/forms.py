"""The campaign form of the app's own creation page."""

from __future__ import annotations

from django import forms
from django.db.models import Count, Exists, OuterRef

from curation.models import Campaign, Selection, Title


class ScoredTitles(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Title) -> str:
        clusters = getattr(obj, "cluster_count", None)  # annotated by the queryset below
        return f"{obj.name} ({clusters} clusters)"


class CampaignCreateForm(forms.Form):
    """Grade: any selectors. A/B: selector A and selector B, chosen by name, not by order."""

    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(
        choices=Campaign.Kind.choices, widget=forms.RadioSelect, initial=Campaign.Kind.GRADE
    )
    titles = ScoredTitles(
        queryset=Title.objects.filter(
            Exists(Selection.objects.filter(cluster__title=OuterRef("pk")))
        )
        .annotate(cluster_count=Count("clusters"))
        .order_by("name"),
        widget=forms.CheckboxSelectMultiple,
        help_text="Only titles with picks (scored) can be judged.",
    )
    selectors = forms.MultipleChoiceField(
        choices=Selection.Selector.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Grade: the selectors whose picks are graded.",
    )
    selector_a = forms.ChoiceField(
        choices=[("", "—"), *Selection.Selector.choices], required=False, label="Selector A"
    )
    selector_b = forms.ChoiceField(
        choices=[("", "—"), *Selection.Selector.choices], required=False, label="Selector B"
    )
    overlap = forms.IntegerField(min_value=1, max_value=20, initial=1, label="Judgments per item")
    sample_size = forms.IntegerField(
        min_value=1, required=False, help_text="Empty: every cluster.", label="Clusters sampled"
    )
    seed = forms.IntegerField(initial=0, help_text="Of the sample, the orders and the A/B sides.")
    order = forms.ChoiceField(
        choices=Campaign.Order.choices,
        initial=Campaign.Order.RANDOM,
        required=False,
        help_text="Order “disagreement first”: only the clusters where the selectors picked "
        "different faces are asked; the others are recorded as agreement.",
    )
    gold_percent = forms.IntegerField(
        min_value=0,
        max_value=50,
        initial=10,
        required=False,
        label="Check items (%)",
        help_text="Check items: in a grade campaign, faces an admin graded and picks shown "
        "strongly degraded; in an A/B campaign, pairs shown again with the sides swapped and "
        "picks against their degraded copy.",
    )
    target_points = forms.IntegerField(
        min_value=1,
        max_value=100,
        initial=20,
        required=False,
        label="Target interval width (points)",
        help_text="Target width: the campaign has judged enough when its 95 % intervals are this "
        "narrow.",
    )
    alpha = forms.FloatField(
        min_value=0.001, max_value=0.5, initial=0.05, required=False, label="A/B sign test α"
    )
    lease_seconds = forms.IntegerField(min_value=30, initial=300, label="Lease (seconds)")
    min_view_ms = forms.IntegerField(
        min_value=0, max_value=5000, initial=250, label="Minimum viewing time (ms)"
    )

    def chosen_selectors(self) -> list[str]:
        data = self.cleaned_data
        if data.get("kind") == Campaign.Kind.AB:
            return [s for s in (data.get("selector_a"), data.get("selector_b")) if s]
        return list(data.get("selectors") or [])

    def choices(self) -> dict:
        """What decides the campaign's items, as ``campaign_preview`` and ``campaign_create``
        take it."""
        data = self.cleaned_data
        return {
            "kind": data["kind"],
            "titles": list(data["titles"]),
            "selectors": self.chosen_selectors(),
            "overlap": data["overlap"],
            "sample_size": data["sample_size"],
            "seed": data["seed"],
            # Left out (a form posted by a script): no checks, the model's defaults.
            "order": data.get("order") or Campaign.Order.RANDOM,
            "gold_share": (data.get("gold_percent") or 0) / 100,
            "target_width": (data.get("target_points") or 20) / 100,
            "alpha": data.get("alpha") or 0.05,
        }

    def clean(self):
        data = super().clean()
        if data.get("kind") == Campaign.Kind.AB:
            a, b = data.get("selector_a"), data.get("selector_b")
            if not a or not b:
                raise forms.ValidationError("an A/B campaign needs selector A and selector B")
            if a == b:
                raise forms.ValidationError("selector A and selector B must differ")
        elif data.get("kind") == Campaign.Kind.GRADE and not data.get("selectors"):
            raise forms.ValidationError("choose the selectors whose picks are graded")
        return data
