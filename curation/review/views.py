"""The annotators' queues (grade and A/B) and the admins' campaign progress.

Nothing an annotator receives names a selector: items are shown by id, images by item and slot,
and A/B answers are sides, mapped to selectors on the server.
"""

from __future__ import annotations

from pathlib import Path

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_POST
from django_htmx.middleware import HtmxDetails

from curation.accounts.roles import admin_required
from curation.catalog.frames import frame_jpeg
from curation.catalog.thumbnails import degraded_jpeg, face_crop_response, response_bytes
from curation.evaluation.checks import checks_table
from curation.evaluation.tables import Filters
from curation.listing import listing
from curation.models import Campaign, Item
from curation.review.campaigns import CampaignInvalid, campaign_create, campaign_preview
from curation.review.forms import CampaignCreateForm
from curation.review.queue import (
    NothingToUndo,
    StaleAnswer,
    TooQuick,
    annotator_count,
    answer_record,
    campaign_progress,
    item_left_is_a,
    judgments_left,
    may_see,
    next_item,
    undo_last,
    with_progress,
)
from curation.review.stopping import campaign_savings, campaign_stopping

# The picture slots of each kind of item: an A/B item shows only its two sides, never which
# selector's pick is which.
IMAGE_SLOTS: dict[str, tuple[str, ...]] = {
    Campaign.Kind.GRADE: ("headshot", "face", "frame", "reference"),
    Campaign.Kind.AB: ("left", "right", "reference"),
}


class AnnotatorRequest(HttpRequest):
    """A request as the views here get it: signed in (the login middleware lets no other
    through) and with django-htmx's ``htmx``."""

    user: User
    htmx: HtmxDetails


def review_home(request: HttpRequest) -> HttpResponse:
    campaigns = Campaign.objects.filter(is_open=True)
    rows = [
        {"campaign": c, "mine": annotator_count(campaign=c, annotator=request.user)}
        for c in campaigns
    ]
    return render(request, "review/home.html", {"rows": rows})


def queue(request: AnnotatorRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    if not campaign.is_open:
        return _closed_response(request, campaign)
    return render(request, "review/queue.html", _item_context(request, campaign))


def _closed_response(request: AnnotatorRequest, campaign: Campaign) -> HttpResponse:
    """The task was closed while the annotator was on it: say so, keep what they answered,
    and point them to their other tasks (in place of the item, for an htmx request)."""
    text = f"Task {campaign.pk} was closed by an admin. Your answers in it are kept."
    if request.htmx:
        return render(request, "review/_closed.html", {"campaign": campaign, "text": text})
    messages.info(request, text)
    return redirect("review-home")


@require_POST
def answer(request: AnnotatorRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    if not campaign.is_open:
        return _closed_response(request, campaign)
    notice = ""
    try:
        answer_record(
            campaign=campaign,
            annotator=request.user,
            token=request.POST.get("token", ""),
            answer=request.POST.get("answer", ""),
            viewed_ms=_viewed_ms(request.POST.get("viewed_ms")),
        )
    except (StaleAnswer, TooQuick) as error:
        notice = str(error).capitalize() + "."
    except ValueError as error:
        return HttpResponse(str(error), status=400)
    return _item_response(request, campaign, notice)


@require_POST
def undo(request: AnnotatorRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    if not campaign.is_open:
        return _closed_response(request, campaign)
    try:
        undo_last(campaign=campaign, annotator=request.user)
        notice = "Undone: judge this item again."
    except NothingToUndo as error:
        notice = str(error).capitalize() + "."
    return _item_response(request, campaign, notice)


def _viewed_ms(value: str | None) -> int | None:
    """The page's own measure of how long the item was shown; absent from a plain form."""
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _item_response(request: AnnotatorRequest, campaign: Campaign, notice: str) -> HttpResponse:
    context = _item_context(request, campaign, notice)
    if request.htmx:
        return render(request, "review/_item.html", context)
    if notice:
        messages.info(request, notice)
    return redirect("review-queue", campaign_id=campaign.pk)


def _item_context(request: HttpRequest, campaign: Campaign, notice: str = "") -> dict:
    served = next_item(campaign=campaign, annotator=request.user)
    return {
        "campaign": campaign,
        "served": served,
        "notice": notice,
        "count": annotator_count(campaign=campaign, annotator=request.user),
        "left": judgments_left(campaign),
        "ab": campaign.kind == Campaign.Kind.AB,
    }


@cache_control(private=True, max_age=3600)
def item_image(request: AnnotatorRequest, item_id: int, slot: str) -> HttpResponseBase:
    """An item's picture by slot: ``headshot``, ``face`` and ``frame`` of a graded face, or the
    ``left`` and ``right`` headshots of an A/B pair as this annotator sees them. Only for an
    annotator who holds the item's lease or judged it; the file name says only the slot."""
    item = get_object_or_404(
        Item.objects.select_related(
            "campaign", "face__frame__title", "face_b__frame", "reference__frame"
        ),
        pk=item_id,
    )
    if (
        slot not in IMAGE_SLOTS[item.campaign.kind]
        or item.face is None
        or not item.campaign.is_open
        or not may_see(item=item, annotator=request.user)
    ):
        raise Http404("no such image")
    response = _slot_image(request, item, slot)
    if _degraded_slot(request, item, slot):
        response = HttpResponse(degraded_jpeg(response_bytes(response)), content_type="image/jpeg")
    frame_image = item.face.frame.image.name
    suffix = ".jpg"
    if slot == "frame" and frame_image and not item.gold_source:
        suffix = Path(frame_image).suffix
    response["Content-Disposition"] = f'inline; filename="{slot}{suffix}"'
    return response


def _degraded_slot(request: AnnotatorRequest, item: Item, slot: str) -> bool:
    """Whether the slot shows a degraded gold picture: every picture of a degraded grade item
    but the reference; the B side of a degraded A/B pair."""
    if item.gold_source != Item.GoldSource.DEGRADED or slot == "reference":
        return False
    if slot not in ("left", "right"):
        return True
    a_left = item_left_is_a(campaign=item.campaign, item=item, annotator_id=request.user.pk)
    return (slot == "left") != a_left


def _slot_image(request: AnnotatorRequest, item: Item, slot: str) -> HttpResponseBase:
    """The picture as it was when the campaign was made: the item's face and headshot file,
    whatever scoring has picked since."""
    if slot == "reference":  # another face of the person, never a pick
        if item.reference is None:
            raise Http404("no reference photo for this person")
        return face_crop_response(item.reference, size=320)
    face, crop = item.face, item.crop
    if slot in ("left", "right"):
        a_left = item_left_is_a(campaign=item.campaign, item=item, annotator_id=request.user.pk)
        if (slot == "left") != a_left:
            face, crop = item.face_b, item.crop_b
    if face is None:
        raise Http404("no such image")
    if slot == "face":
        return face_crop_response(face, size=320)
    if slot == "frame":
        if face.frame.image:
            return FileResponse(face.frame.image.open("rb"))
        return HttpResponse(frame_jpeg(face.frame), content_type="image/jpeg")
    if not crop or not default_storage.exists(crop):
        return face_crop_response(face, size=600)
    return FileResponse(default_storage.open(crop, "rb"), content_type="image/jpeg")


@admin_required
def campaign_list(request: HttpRequest) -> HttpResponse:
    found = listing(
        request,
        with_progress(Campaign.objects.all()),
        search=("name",),
        columns={"name": "name", "created_at": "created", "kind": "kind", "is_open": "state"},
        default="-created_at",
    )
    rows = [{"campaign": c, "done": c.done, "total": c.total} for c in found.page]
    return render(
        request,
        "review/campaign_list.html",
        {"rows": rows, "listing": found, "any": Campaign.objects.exists()},
    )


@admin_required
def campaign_new(request: HttpRequest) -> HttpResponse:
    """The app's campaign form: GET shows it, POST creates the campaign or says why not."""
    form = CampaignCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            campaign = campaign_create(
                name=data["name"],
                **form.choices(),
                lease_seconds=data["lease_seconds"],
                min_view_ms=data["min_view_ms"],
                created_by=request.user,
            )
        except CampaignInvalid as error:
            form.add_error(None, str(error))
        else:
            messages.info(request, f"Created “{campaign.name}”.")
            return redirect("campaign-detail", campaign_id=campaign.pk)
    return render(request, "review/campaign_new.html", {"form": form, "preview": None})


@admin_required
def campaign_preview_fragment(request: HttpRequest) -> HttpResponse:
    """How many items the form as filled in would make (htmx, as the admin edits it)."""
    form = CampaignCreateForm(request.GET)
    preview, problem = None, ""
    if form.is_valid():
        try:
            preview = campaign_preview(**form.choices())
        except CampaignInvalid as error:
            problem = str(error)
    else:
        problem = "; ".join(str(error) for errors in form.errors.values() for error in errors)
    return render(
        request, "review/_campaign_preview.html", {"preview": preview, "problem": problem}
    )


@admin_required
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    stopping = campaign_stopping(campaign)
    return render(
        request,
        "review/campaign_detail.html",
        {
            "campaign": campaign,
            "progress": campaign_progress(campaign),
            "stopping": stopping,
            "savings": campaign_savings(campaign),
            "checks": checks_table(Filters(campaigns=[campaign.pk])),
        },
    )


@admin_required
def campaign_close(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """GET: ask to confirm; POST: close. Annotators on it are told at their next key."""
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    if request.method != "POST":
        return render(
            request,
            "review/campaign_close.html",
            {"campaign": campaign, "progress": campaign_progress(campaign)},
        )
    Campaign.objects.filter(pk=campaign_id).update(is_open=False)
    messages.info(request, f"Closed “{campaign.name}”. Reopen it to take judgments again.")
    return redirect("campaign-detail", campaign_id=campaign_id)


@admin_required
@require_POST
def campaign_reopen(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    Campaign.objects.filter(pk=campaign_id).update(is_open=True)
    messages.info(request, f"Reopened “{campaign.name}”.")
    return redirect("campaign-detail", campaign_id=campaign_id)
