"""The evaluation tables from judgments in the database: their counts, shares and formatting, and
their statistics checked against other implementations (statsmodels, krippendorff)."""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import zipfile
from collections import Counter

import krippendorff
import numpy as np
import pytest
from django.core.management import call_command
from django.urls import reverse
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from curation.accounts.users import user_create
from curation.evaluation.stats import (
    holm,
    krippendorff_alpha_ordinal,
    mcnemar_exact,
    sign_test,
    wilson_interval,
)
from curation.evaluation.tables import Filters, table1, table2, table3
from curation.models import Campaign, Cluster, Face, Frame, Item, Judgment, Selection, Title
from curation.review.queue import campaign_recount

pytestmark = pytest.mark.django_db


class World:
    """Titles, clusters with two faces each, and picks, written as plain rows."""

    def __init__(self, clusters: int, title: str = "t"):
        self.title = Title.objects.create(name=title, status=Title.Status.SCORED)
        rng = np.random.default_rng(len(title))
        self.clusters = []
        for index in range(clusters):
            cluster = Cluster.objects.create(title=self.title, label=f"actor-{index:03d}")
            faces = []
            for side in range(2):
                frame = Frame.objects.create(
                    title=self.title,
                    source_name=f"{index}/{side}.jpg",
                    image=f"x/{index}-{side}.jpg",
                    width=200,
                    height=200,
                )
                faces.append(
                    Face.objects.create(
                        title=self.title,
                        cluster=cluster,
                        frame=frame,
                        box_x=10,
                        box_y=10,
                        box_w=100,
                        box_h=120,
                        landmarks=[[0, 0]] * 5,
                        confidence=0.99,
                        brightness=float(rng.uniform(20, 80)),
                        resolution=float(rng.uniform(1e3, 3e4)),
                        sharpness=float(rng.uniform(0, 1)),
                        yaw=float(rng.normal(0, 20)),
                        pitch=float(rng.normal(0, 10)),
                        roll=float(rng.normal(0, 5)),
                        quality=0.5,
                    )
                )
            self.clusters.append((cluster, faces))

    def picks(self, selectors_faces: dict[str, int]) -> None:
        for cluster, faces in self.clusters:
            for selector, side in selectors_faces.items():
                Selection.objects.create(
                    cluster=cluster, selector=selector, parameters="test", face=faces[side]
                )


def judge(item: Item, annotator, answer: str) -> Judgment:
    """A judgment recorded as by the queue: with its item's counters."""
    judgment = Judgment.objects.create(
        item=item, annotator=annotator, answer=answer, seconds=1.0, token=secrets.token_hex(16)
    )
    campaign_recount(item.campaign)
    return judgment


@pytest.fixture
def annotator():
    return user_create(username="ann", role="annotator", password="pw-ann-1")[0]


def ab_campaign(world: World, outcomes: list[str], annotator, identical: int = 0) -> Campaign:
    campaign = Campaign.objects.create(name="ab", kind="ab", selectors=["filtering", "regression"])
    campaign.titles.add(world.title)
    for (cluster, faces), outcome in zip(
        world.clusters, outcomes + [None] * identical, strict=True
    ):
        if outcome is None:
            Item.objects.create(
                campaign=campaign,
                cluster=cluster,
                face=faces[0],
                face_b=faces[0],
                selectors=campaign.selectors,
                identical=True,
            )
            continue
        item = Item.objects.create(
            campaign=campaign,
            cluster=cluster,
            face=faces[0],
            face_b=faces[1],
            selectors=campaign.selectors,
        )
        judge(item, annotator, outcome)
    return campaign


def sign_test_reference(wins: int, losses: int) -> float:
    """The exact sign test as statsmodels' exact McNemar test on the same discordant counts."""
    return mcnemar([[0, wins], [losses, 0]], exact=True).pvalue


def test_table_2_counts_shares_and_sign_test_of_given_outcomes(annotator, tmp_path):
    """Outcome counts in the proportions of the paper's Table 2 (12 : 89 : 29, 3 identical)
    come out as those counts, their shares of the clusters judged and the sign test's p."""
    world = World(133)
    ab_campaign(world, ["a"] * 12 + ["b"] * 89 + ["equal"] * 29, annotator, identical=3)

    overall = next(r for r in table2(Filters()).raw if r["scope"] == "all titles")

    assert (overall["wins_a"], overall["wins_b"], overall["equal"]) == (12, 89, 29)
    assert (overall["judged"], overall["identical"]) == (130, 3)
    assert overall["sign_test_p"] == pytest.approx(sign_test_reference(12, 89), rel=1e-9)
    assert f"{overall['sign_test_p']:.1e}" == "1.1e-15"
    call_command("export_tables", "--format", "md", "--out", str(tmp_path), stdout=io.StringIO())
    markdown = (tmp_path / "table2.md").read_text()
    assert (
        "| filtering vs regression | all titles | 12 (9.2%) | 89 (68.5%) | 29 (22.3%) | 3 | "
        "130 | 1.1e-15 |"
    ) in markdown


def test_table_1_counts_intervals_and_paired_tests_match_the_references(annotator, tmp_path):
    world = World(97)
    world.picks({"baseline": 0, "filtering": 1})
    campaign = Campaign.objects.create(
        name="grade", kind="grade", selectors=["baseline", "filtering"]
    )
    # Baseline: 13 unidentifiable, 36 usable, 48 excellent; filtering: 8, 11, 78.
    baseline = ["unidentifiable"] * 13 + ["usable"] * 36 + ["excellent"] * 48
    filtering = ["unidentifiable"] * 8 + ["usable"] * 11 + ["excellent"] * 78
    for (cluster, faces), b, f in zip(world.clusters, baseline, filtering, strict=True):
        judge(
            Item.objects.create(
                campaign=campaign, cluster=cluster, face=faces[0], selectors=["baseline"]
            ),
            annotator,
            b,
        )
        judge(
            Item.objects.create(
                campaign=campaign, cluster=cluster, face=faces[1], selectors=["filtering"]
            ),
            annotator,
            f,
        )

    grades, tests = table1(Filters())
    rows = {row["selector"]: row for row in grades.raw}

    assert rows["baseline"]["unidentifiable"]["count"] == 13
    assert rows["baseline"]["usable"]["count"] == 84
    assert rows["filtering"]["excellent"]["count"] == 78
    for row in grades.raw:
        for outcome in ("unidentifiable", "usable", "excellent"):
            cell = row[outcome]
            low, high = proportion_confint(cell["count"], cell["n"], method="wilson")
            assert (cell["wilson_low"], cell["wilson_high"]) == pytest.approx((low, high))
    assert grades.rows[0][2] == "13.4% [8.0, 21.6] (13/97)"
    by_outcome = {row["outcome"]: row for row in tests.raw}
    for outcome, hit in (("unidentifiable", "unidentifiable"), ("excellent", "excellent")):
        row = by_outcome[outcome]
        b_hit = [v == hit for v in baseline]
        f_hit = [v == hit for v in filtering]
        table = [
            [
                sum(x and y for x, y in zip(b_hit, f_hit, strict=True)),
                sum(x and not y for x, y in zip(b_hit, f_hit, strict=True)),
            ],
            [
                sum(y and not x for x, y in zip(b_hit, f_hit, strict=True)),
                sum(not x and not y for x, y in zip(b_hit, f_hit, strict=True)),
            ],
        ]
        assert row["p_exact"] == pytest.approx(mcnemar(table, exact=True).pvalue)
    reference = multipletests([r["p_exact"] for r in tests.raw], method="holm")[1]
    assert [r["p_holm"] for r in tests.raw] == pytest.approx(list(reference))


def test_table_3_medians_and_the_dashboard_equal_the_export(client, annotator, tmp_path):
    world = World(20)
    world.picks({"baseline": 0, "regression": 1})
    ab_campaign(world, ["a", "b", "equal", "b"] * 5, annotator)
    table = table3(Filters())
    yaw = next(row for row in table.raw if row["feature"] == "yaw")
    picked = [abs(faces[1].yaw) for _, faces in world.clusters]
    assert yaw["regression"]["median"] == pytest.approx(float(np.median(picked)))
    assert yaw["regression"]["low"] < yaw["regression"]["median"] < yaw["regression"]["high"]

    admin, _ = user_create(username="boss", role="admin", password="pw-admin-1")
    client.force_login(admin)
    page = client.get(reverse("evaluation")).content.decode()
    call_command("export_tables", "--format", "json", "--out", str(tmp_path), stdout=io.StringIO())
    for key in ("table2", "table3"):
        exported = json.loads((tmp_path / f"{key}.json").read_text())
        assert exported["rows"]
        section = page.split(f'id="{key}"')[1].split("</section>")[0]
        cells = [
            re.sub(r"\s+", " ", c).strip()
            for c in re.findall(r"<td>(.*?)</td>", section, flags=re.S)
        ]
        assert cells == [cell for row in exported["rows"] for cell in row]
    download = client.get(reverse("evaluation-download", args=["tex"]))
    assert download["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert "table3.tex" in archive.namelist()
        assert "Learned quality" in archive.read("table3.tex").decode()


def test_an_empty_evaluation_explains_itself_instead_of_failing(client, tmp_path):
    admin, _ = user_create(username="boss", role="admin", password="pw-admin-1")
    client.force_login(admin)
    page = client.get(reverse("evaluation"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "No grade judgments match these filters yet" in text
    assert "No A/B judgments match these filters yet" in text
    for fmt in ("csv", "md", "json", "tex"):
        call_command(
            "export_tables", "--format", fmt, "--out", str(tmp_path / fmt), stdout=io.StringIO()
        )
        assert (tmp_path / fmt / f"table1.{fmt}").exists()


def test_statistics_match_statsmodels_and_krippendorff():
    rng = np.random.default_rng(7)
    for successes, n in ((0, 10), (1, 1), (13, 97), (97, 97)):
        assert wilson_interval(successes, n) == pytest.approx(
            proportion_confint(successes, n, method="wilson")
        )
    for wins, losses in ((0, 0), (3, 17), (89, 12), (50, 50)):
        assert sign_test(wins, losses) == pytest.approx(sign_test_reference(wins, losses), rel=1e-9)
    assert mcnemar_exact(4, 11) == pytest.approx(mcnemar([[5, 4], [11, 3]], exact=True).pvalue)
    p_values = list(rng.uniform(0, 0.2, size=7))
    assert holm(p_values) == pytest.approx(list(multipletests(p_values, method="holm")[1]))
    for _ in range(5):
        ratings = rng.integers(0, 3, size=(3, 40)).astype(float)
        ratings[rng.random(ratings.shape) < 0.2] = np.nan
        units = Counter(
            tuple(int((column == rank).sum()) for rank in range(3)) for column in ratings.T
        )
        assert krippendorff_alpha_ordinal(units) == pytest.approx(
            krippendorff.alpha(reliability_data=ratings, level_of_measurement="ordinal")
        )


def test_agreement_uses_krippendorff_and_compares_each_annotator_with_the_others(annotator):
    from curation.evaluation.tables import agreement

    others = [
        user_create(username=n, role="annotator", password="pw-ann-1")[0] for n in ("bea", "cid")
    ]
    world = World(4)
    campaign = Campaign.objects.create(name="g", kind="grade", selectors=["baseline"], overlap=3)
    answers = [
        ("usable", "usable", "excellent"),
        ("excellent", "excellent", "excellent"),
        ("unidentifiable", "usable", "unidentifiable"),
        ("usable", "usable", "usable"),
    ]
    for (cluster, faces), trio in zip(world.clusters, answers, strict=True):
        item = Item.objects.create(
            campaign=campaign, cluster=cluster, face=faces[0], selectors=["baseline"]
        )
        for person, answer in zip([annotator, *others], trio, strict=True):
            judge(item, person, answer)

    raw = agreement(Filters()).raw
    alpha = next(r for r in raw if r.get("measure", "").startswith("Krippendorff"))
    ranks = {"unidentifiable": 0, "usable": 1, "excellent": 2}
    data = np.array([[ranks[trio[k]] for trio in answers] for k in range(3)], dtype=float)
    assert alpha["value"] == pytest.approx(
        krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal")
    )
    per_person = {r["annotator"]: r for r in raw if r.get("annotator") and r["kind"] == "grade"}
    assert per_person["ann"]["agreement_with_majority"] == 1.0
    assert per_person["cid"]["agreement_with_majority"] == pytest.approx(2 / 3)
    assert per_person["bea"]["judgments"] == 3  # item 1: the others split 1-1, left out


def test_raw_judgments_export_every_row_streamed_for_admins_only(client, annotator):
    world = World(4)
    campaign = ab_campaign(world, ["a", "b", "equal", "a"], annotator)
    undone = Judgment.objects.order_by("pk").last()
    Judgment.objects.create(
        item=undone.item,
        annotator=annotator,
        answer="undo",
        seconds=0,
        token=secrets.token_hex(16),
        supersedes=undone,
    )
    campaign_recount(campaign)
    client.force_login(annotator)
    assert client.get(reverse("evaluation-judgments", args=["csv"])).status_code == 403
    admin, _ = user_create(username="boss", role="admin", password="pw-admin-1")
    client.force_login(admin)

    response = client.get(reverse("evaluation-judgments", args=["csv"]))
    assert response.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == Judgment.objects.count() == 5
    by_answer = {row["answer"]: row for row in rows}
    assert by_answer["b"]["selector_chosen"] == "regression"
    assert by_answer["undo"]["supersedes"] == str(undone.pk)
    assert {row["annotator"] for row in rows} == {"ann"}
    assert {row["campaign"] for row in rows} == {str(campaign.pk)}
    jsonl = client.get(reverse("evaluation-judgments", args=["jsonl"]))
    lines = [json.loads(line) for line in b"".join(jsonl.streaming_content).splitlines()]
    assert [line["judgment"] for line in lines] == [int(row["judgment"]) for row in rows]
    assert client.get("/evaluation/judgments.xml").status_code == 404
