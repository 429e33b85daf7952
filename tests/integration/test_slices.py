"""Slice reports: grade shares and A/B wins per bin of a feature and per title, from campaigns
judged through the real queue by simulated annotators whose answers are known."""

from __future__ import annotations

import csv
import io
import math
import zipfile

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from curation.accounts.users import user_create
from curation.evaluation.slices import SLICER_BY_KEY, ab_slices, grade_slices, slice_tables
from curation.evaluation.tables import Filters
from curation.models import Campaign, Cluster, Face, Frame, Selection, Title
from curation.review.campaigns import campaign_create
from curation.review.queue import answer_record, next_item

pytestmark = pytest.mark.django_db

# Per cluster of title "alpha": the baseline pick's yaw and the grades two annotators give it.
ALPHA_BASELINE = [
    (2, "excellent", "usable"),
    (-4, "excellent", "excellent"),
    (6, "usable", "usable"),
    (9, "unidentifiable", "usable"),
    (12, "usable", "usable"),
    (-15, "usable", "excellent"),
    (18, "excellent", "excellent"),
    (25, "usable", "unidentifiable"),
    (-30, "unidentifiable", "unidentifiable"),
    (40, "unidentifiable", "usable"),
    (-60, "unidentifiable", "unidentifiable"),
    (None, "usable", "usable"),
]
# The filtering pick's yaw in each cluster; both annotators grade it excellent when |yaw| < 10,
# else usable.
ALPHA_FILTERING = [1, 3, -5, 7, 2, -8, 11, 14, -3, 4, 6, 9]
BETA_BASELINE = [(5, "excellent", "excellent")] * 4
BETA_FILTERING = [0, 0, 20, -30]


class World:
    """Two titles whose clusters each hold a baseline and a filtering pick of known yaw and size
    (the baseline's picks 40 px wide in the first six clusters of alpha, 150 px elsewhere; the
    filtering picks 250 px)."""

    def __init__(self):
        self.grades: dict[int, tuple[str, str]] = {}  # face → (first, second annotator's grade)
        self.yaw: dict[int, float | None] = {}
        self.titles = [
            self._title("alpha", ALPHA_BASELINE, ALPHA_FILTERING),
            self._title("beta", BETA_BASELINE, BETA_FILTERING),
        ]

    def _title(self, name: str, baseline, filtering) -> Title:
        title = Title.objects.create(name=name, status=Title.Status.SCORED)
        for index, ((yaw, first, second), other_yaw) in enumerate(
            zip(baseline, filtering, strict=True)
        ):
            cluster = Cluster.objects.create(title=title, label=f"{name}-{index}")
            side = 40 if name == "alpha" and index < 6 else 150
            base = self._face(title, cluster, f"{index}-b", yaw, side)
            other = self._face(title, cluster, f"{index}-f", other_yaw, 250)
            self.grades[base.pk] = (first, second)
            other_grade = "excellent" if abs(other_yaw) < 10 else "usable"
            self.grades[other.pk] = (other_grade, other_grade)
            for selector, face in (("baseline", base), ("filtering", other)):
                Selection.objects.create(
                    cluster=cluster, selector=selector, parameters="test", face=face
                )
        return title

    def _face(self, title, cluster, name: str, yaw: float | None, side: int) -> Face:
        frame = Frame.objects.create(
            title=title, source_name=f"{name}.jpg", image=f"x/{name}.jpg", width=400, height=400
        )
        face = Face.objects.create(
            title=title,
            cluster=cluster,
            frame=frame,
            box_x=0,
            box_y=0,
            box_w=side,
            box_h=side,
            landmarks=[[0, 0]] * 5,
            confidence=0.99,
            yaw=yaw,
            pitch=3.0,
            resolution=float(side * side),
        )
        self.yaw[face.pk] = yaw
        return face

    def preferred(self, face: int, face_b: int) -> str:
        """The simulated A/B annotator: the face of smaller |yaw| when they differ by 5° or
        more; equal otherwise, or when either is unmeasured."""
        yaw_a, yaw_b = self.yaw[face], self.yaw[face_b]
        if yaw_a is None or yaw_b is None or abs(abs(yaw_a) - abs(yaw_b)) < 5:
            return "equal"
        return "a" if abs(yaw_a) < abs(yaw_b) else "b"


def judge_all(campaign: Campaign, annotator, answer) -> int:
    """Answer every item the queue serves this annotator, as the review page would."""
    count = 0
    while (served := next_item(campaign=campaign, annotator=annotator)) is not None:
        given = answer(served)
        answer_record(
            campaign=campaign, annotator=annotator, token=served.token, answer=given, viewed_ms=900
        )
        count += 1
    return count


def side_of(choice: str, left_is_a: bool) -> str:
    if choice == "equal":
        return "equal"
    return "left" if (choice == "a") == left_is_a else "right"


@pytest.fixture
def judged():
    world = World()
    people = [
        user_create(username=name, role="annotator", password="pw-ann-1")[0]
        for name in ("ann", "bea")
    ]
    grading = campaign_create(
        name="grades",
        kind="grade",
        titles=world.titles,
        selectors=["baseline", "filtering"],
        overlap=2,
    )
    for index, person in enumerate(people):
        done = judge_all(grading, person, lambda s, i=index: world.grades[s.item.face_id][i])
        assert done == 2 * 16
    ab = campaign_create(
        name="ab", kind="ab", titles=world.titles, selectors=["baseline", "filtering"]
    )
    judge_all(
        ab,
        people[0],
        lambda s: side_of(world.preferred(s.item.face_id, s.item.face_b_id), s.left_is_a),
    )
    return world


def by_bin(table, slice_key: str, who: str) -> dict[str, dict]:
    return {
        row["bin"]: row
        for row in table.raw
        if row["slice"] == slice_key and who in (row.get("selector"), row.get("a"))
    }


def shares(row: dict) -> tuple:
    return (
        row["n"],
        row["unidentifiable"]["count"],
        row["usable"]["count"],
        row["excellent"]["count"],
    )


def test_grade_shares_per_bin_take_each_items_lower_median(judged):
    table = grade_slices(Filters())

    baseline = by_bin(table, "yaw", "baseline")
    # Lower medians of the two grades, 0–10°: usable, excellent, usable, unidentifiable (alpha)
    # and four excellent (beta).
    assert shares(baseline["0–10°"]) == (8, 1, 7, 5)
    assert shares(baseline["10–20°"]) == (3, 0, 3, 1)
    assert shares(baseline["20–35°"]) == (2, 2, 0, 0)
    assert shares(baseline["≥ 35°"]) == (2, 2, 0, 0)
    assert shares(baseline["unmeasured"]) == (1, 0, 1, 0)
    assert list(baseline) == ["0–10°", "10–20°", "20–35°", "≥ 35°", "unmeasured"]
    filtering = by_bin(table, "yaw", "filtering")
    assert shares(filtering["0–10°"]) == (12, 0, 12, 12)
    assert shares(filtering["10–20°"]) == (2, 0, 2, 0)
    assert shares(filtering["20–35°"]) == (2, 0, 2, 0)
    assert list(filtering) == ["0–10°", "10–20°", "20–35°"]  # no unmeasured bin: none is
    assert shares(by_bin(table, "pitch", "baseline")["0–10°"]) == (16, 5, 11, 6)
    size = by_bin(table, "size", "baseline")
    assert shares(size["< 50 px"]) == (6, 1, 5, 1)
    assert shares(size["100–200 px"]) == (10, 4, 6, 5)
    assert list(by_bin(table, "size", "filtering")) == ["≥ 200 px"]
    titles = by_bin(table, "title", "baseline")
    assert shares(titles["alpha"]) == (12, 5, 7, 2)
    assert shares(titles["beta"]) == (4, 0, 4, 4)
    assert list(by_bin(table, "fiqa", "baseline")) == ["unmeasured"]  # none measured

    for row in table.raw:
        for outcome in ("unidentifiable", "usable", "excellent"):
            cell = row[outcome]
            low, high = proportion_confint(cell["count"], cell["n"], method="wilson")
            assert (cell["wilson_low"], cell["wilson_high"]) == pytest.approx((low, high))
    row = table.rows[table.raw.index(baseline["0–10°"])]
    low, high = proportion_confint(7, 8, method="wilson")
    assert row[:4] == ["|Yaw|", "0–10°", "baseline", "8"]
    assert row[5] == f"87.5% [{100 * low:.1f}, {100 * high:.1f}] (7/8)"


def test_ab_wins_per_bin_of_the_pairs_mean_value_with_the_sign_test(judged):
    table = ab_slices(Filters())

    def outcome(row: dict) -> tuple[int, int, int]:
        return (row["wins_a"], row["wins_b"], row["equal"])

    yaw = by_bin(table, "yaw", "baseline")
    # Mean |yaw| of the two picks: 0–10° holds alpha's first four clusters and its unmeasured
    # one (9°, all equal), alpha's (12°, 2°) and beta's two (5°, 0°), which filtering wins.
    assert outcome(yaw["0–10°"]) == (0, 3, 5)
    assert outcome(yaw["10–20°"]) == (2, 4, 0)
    assert outcome(yaw["20–35°"]) == (0, 2, 0)
    assert list(yaw) == ["0–10°", "10–20°", "20–35°"]
    titles = by_bin(table, "title", "baseline")
    assert outcome(titles["alpha"]) == (0, 7, 5) and outcome(titles["beta"]) == (2, 2, 0)
    for row in table.raw:
        wins, losses = row["wins_a"], row["wins_b"]
        reference = mcnemar([[0, wins], [losses, 0]], exact=True).pvalue
        assert row["sign_test_p"] == pytest.approx(reference, rel=1e-9)
        share = row["a_share_of_decisive"]
        assert share["n"] == wins + losses
        if share["n"]:
            low, high = proportion_confint(wins, wins + losses, method="wilson")
            assert (share["wilson_low"], share["wilson_high"]) == pytest.approx((low, high))
    assert yaw["10–20°"]["sign_test_p"] == pytest.approx(0.6875)
    row = table.rows[table.raw.index(yaw["10–20°"])]
    low, high = proportion_confint(2, 6, method="wilson")
    assert row == [
        "|Yaw|",
        "10–20°",
        "baseline vs filtering",
        "2",
        "4",
        "0",
        f"33.3% [{100 * low:.1f}, {100 * high:.1f}] (2/6)",
        "0.69",
    ]


def reads(captured: CaptureQueriesContext) -> list[str]:
    """The statements that read rows (not the transaction's savepoints and settings)."""
    return [q["sql"] for q in captured if q["sql"].lstrip().upper().startswith(("SELECT", "WITH"))]


def test_the_slices_are_read_in_a_fixed_number_of_queries(judged):
    with CaptureQueriesContext(connection) as before:
        slice_tables(Filters())
    more = user_create(username="cid", role="annotator", password="pw-ann-1")[0]
    again = campaign_create(
        name="again", kind="grade", titles=judged.titles, selectors=["baseline", "filtering"]
    )
    assert judge_all(again, more, lambda s: "usable") == 32
    with CaptureQueriesContext(connection) as after:
        tables = slice_tables(Filters())
    assert len(reads(before)) == len(reads(after)) == 2
    assert by_bin(tables[0], "title", "baseline")["beta"]["n"] == 8


def test_the_export_and_the_dashboard_hold_the_slices(judged, client, tmp_path):
    admin, _ = user_create(username="boss", role="admin", password="pw-admin-1")
    client.force_login(admin)
    expected = {table.key: table for table in slice_tables(Filters())}

    download = client.get(reverse("evaluation-download", args=["csv"]))
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert {"table1.csv", "slices_grades.csv", "slices_ab.csv"} <= set(archive.namelist())
        for key, table in expected.items():
            rows = list(csv.reader(io.StringIO(archive.read(f"{key}.csv").decode())))
            assert rows == [table.columns, *table.rows]
    call_command("export_tables", "--format", "json", "--out", str(tmp_path), stdout=io.StringIO())
    assert (tmp_path / "slices_ab.json").exists()

    page = client.get(reverse("evaluation"), {"slice": "yaw"}).content.decode()
    section = page.split('id="slices"')[1].split("</section>")[0]
    assert "Grades by |Yaw|" in section and "A/B by |Yaw|" in section
    assert 'aria-current="true">|Yaw|</a>' in section
    assert "unmeasured" in section and 'class="whisker"' in section
    low, high = proportion_confint(7, 8, method="wilson")
    assert f"87.5% [{100 * low:.1f}, {100 * high:.1f}] (7/8)" in section
    assert 'name="slice" value="yaw"' in page  # the filters keep the slice
    assert "Table 1" in page

    fragment = client.get(
        reverse("evaluation"),
        {"slice": "title"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="slices",
    ).content.decode()
    assert fragment.lstrip().startswith('<section class="card" id="slices">')
    assert "Grades by Title" in fragment and "beta" in fragment and "Table 1" not in fragment
    assert client.get(reverse("evaluation"), {"slice": "shoe size"}).status_code == 404


def test_slices_without_judgments_say_so(client):
    admin, _ = user_create(username="boss", role="admin", password="pw-admin-1")
    client.force_login(admin)
    page = client.get(reverse("evaluation")).content.decode()
    assert "No judgments match these filters yet: slices appear" in page
    grades, ab = slice_tables(Filters())
    assert not grades.rows and grades.empty and not ab.rows and ab.empty


def bin_in_database(slicer, stored: float | None) -> str:
    """The bin the database puts a face of this stored value in."""
    label, params = slicer.bin_sql("m.v")
    measured = slicer.measured_sql("s.stored")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {label} FROM (SELECT {measured} AS v "
            "FROM (SELECT CAST(%s AS DOUBLE PRECISION) AS stored) AS s) AS m",
            [*params, stored],
        )
        return cursor.fetchone()[0]


def test_bins_are_half_open_and_sized_by_the_box_side():
    yaw, size = SLICER_BY_KEY["yaw"], SLICER_BY_KEY["size"]
    assert [bin_in_database(yaw, v) for v in (-9.99, 10, -35, 90)] == [
        "0–10°",
        "10–20°",
        "≥ 35°",
        "≥ 35°",
    ]
    assert bin_in_database(yaw, math.nan) == bin_in_database(yaw, None) == "unmeasured"
    assert bin_in_database(size, 49.9**2) == "< 50 px"
    assert bin_in_database(size, 200.0**2) == "≥ 200 px"
