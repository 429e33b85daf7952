"""Admin pages of review: creating a campaign, training the learned model on campaigns."""

from django import forms
from django.contrib import admin
from django.shortcuts import redirect

from curation.models import Campaign, QualityModel, Selection
from curation.review.campaigns import CampaignInvalid, campaign_check, campaign_create
from curation.scoring_runs.admin import training_start_reported


class CampaignForm(forms.ModelForm):
    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            campaign_check(
                kind=data["kind"],
                titles=list(data["titles"]),
                selectors=list(data["selectors"]),
                overlap=data["overlap"],
            )
        except CampaignInvalid as error:
            raise forms.ValidationError(str(error)) from None
        return data

    selectors = forms.MultipleChoiceField(
        choices=Selection.Selector.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Any for a grade campaign; exactly two for A/B (the first is A).",
    )

    class Meta:
        model = Campaign
        fields = [
            "name",
            "kind",
            "titles",
            "selectors",
            "overlap",
            "sample_size",
            "seed",
            "lease_seconds",
        ]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    list_display = ["name", "kind", "overlap", "is_open", "created_at"]
    list_filter = ["kind", "is_open"]
    actions = ["train_learned"]

    @admin.action(description="Train the learned selector's model on these campaigns' judgments")
    def train_learned(self, request, queryset):
        training_start_reported(
            self,
            request,
            labels=QualityModel.Labels.PEOPLE,
            campaigns=list(queryset.values_list("pk", flat=True)),
        )

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        created = campaign_create(
            name=data["name"],
            kind=data["kind"],
            titles=list(data["titles"]),
            selectors=list(data["selectors"]),
            overlap=data["overlap"],
            sample_size=data["sample_size"],
            seed=data["seed"],
            lease_seconds=data["lease_seconds"],
            created_by=request.user,
        )
        obj.pk = created.pk

    def save_related(self, request, form, formsets, change):
        pass  # campaign_create set the titles

    def response_add(self, request, obj, post_url_continue=None):
        return redirect("campaign-detail", campaign_id=obj.pk)
