"""How people judged two runs' picks, side by side.

A run keeps its picks (``ScoringRun.picks``), so the judgments of any campaign that showed those
faces speak for it, whichever run the campaign was made from:

- grades: a face's grade is the lower median of every counted grade judgment of items showing it
  (:func:`curation.evaluation.labels.face_labels`); per selector, the shares of its graded picks
  unidentifiable / usable (excellent included) / excellent, with Wilson 95 % intervals;
- A/B: a pair of faces of one cluster compared in A/B items (either side) has the majority of
  its answers, pooled over items (ties equal); for each pair of selectors whose two picks in the
  run are such a pair, the wins of each and "equal", the first selector's share of the decisive
  ones with its Wilson interval, and the exact sign test.

The difference is run B's share minus run A's, in percentage points.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass

from curation.evaluation.labels import face_labels
from curation.evaluation.stats import sign_test
from curation.evaluation.tables import (
    GRADE_OUTCOMES,
    Filters,
    counted_judgments,
    grade_cells,
    majority_answer,
    share_cell,
)
from curation.models import Campaign, Judgment, ScoringRun, Selection

# An A/B outcome per (cluster, face, other face), the smaller id first: the winning face's id,
# or "equal".
Outcomes = dict[tuple[int, int, int], int | str]


@dataclass(frozen=True)
class SelectorGrades:
    selector: str
    picks: int
    judged: int
    cells: dict[str, tuple[str, dict]]  # GRADE_OUTCOMES → (cell, numbers)


@dataclass(frozen=True)
class PairWins:
    a: str
    b: str
    wins_a: int
    wins_b: int
    equal: int
    share_a: tuple[str, dict]  # a's share of the decisive outcomes: (cell, numbers)
    p: float


@dataclass(frozen=True)
class RunJudged:
    run: int
    grades: dict[str, SelectorGrades]
    wins: dict[tuple[str, str], PairWins]

    @property
    def judged(self) -> bool:
        return any(g.judged for g in self.grades.values()) or bool(self.wins)


@dataclass(frozen=True)
class JudgedRow:
    """One figure of both runs: what (a selector or a pair), the measure, each run's cell, and
    run B's share minus run A's in points (None when either has none)."""

    what: str
    measure: str
    a: str
    b: str
    difference: float | None = None

    @property
    def change(self) -> str:
        if self.difference is None:
            return "—"
        if round(self.difference, 1) == 0:
            return "0.0 pts"
        return f"{self.difference:+.1f} pts".replace("-", "−")


@dataclass(frozen=True)
class JudgedDiff:
    runs: tuple[RunJudged, RunJudged]
    grades: list[JudgedRow]
    wins: list[JudgedRow]
    not_judged: list[str]  # one line per run none of whose picks was judged


def _ab_outcomes(filters: Filters) -> Outcomes:
    votes: dict[tuple[int, int, int], Counter] = defaultdict(Counter)
    rows = counted_judgments(filters, Campaign.Kind.AB).values_list(
        "item__cluster_id", "item__face_id", "item__face_b_id", "answer"
    )
    for cluster, face, face_b, answer in rows.iterator(chunk_size=5000):
        winner: int | str = "equal"
        if answer != Judgment.Answer.EQUAL:
            winner = face if answer == Judgment.Answer.A else face_b
        votes[(cluster, min(face, face_b), max(face, face_b))][winner] += 1
    return {key: majority_answer(counter) for key, counter in votes.items()}


def _faces(run: ScoringRun, selector: str) -> list[int]:
    return [p[selector]["face"] for p in run.picks.values() if selector in p]


def run_judged(run: ScoringRun, grades: dict[int, int], outcomes: Outcomes) -> RunJudged:
    """The judged quality of one run's picks, from faces' grades and pairs' outcomes."""
    by_selector = {}
    for selector in Selection.Selector.values:
        faces = _faces(run, selector)
        if faces:
            graded = [grades[face] for face in faces if face in grades]
            by_selector[selector] = SelectorGrades(
                selector, len(faces), len(graded), grade_cells(graded)
            )
    wins = {}
    for a, b in itertools.combinations(by_selector, 2):
        counts: Counter = Counter()
        for cluster, picks in run.picks.items():
            face_a, face_b = picks.get(a, {}).get("face"), picks.get(b, {}).get("face")
            if face_a is None or face_b is None or face_a == face_b:
                continue
            outcome = outcomes.get((int(cluster), min(face_a, face_b), max(face_a, face_b)))
            if outcome is not None:
                counts[{face_a: "a", face_b: "b"}.get(outcome, "equal")] += 1
        if counts:
            decisive = counts["a"] + counts["b"]
            share = share_cell(counts["a"], decisive)
            p = sign_test(counts["a"], counts["b"])
            wins[(a, b)] = PairWins(a, b, counts["a"], counts["b"], counts["equal"], share, p)
    return RunJudged(run.pk, by_selector, wins)


def _difference(first: dict, second: dict) -> float | None:
    if not first["n"] or not second["n"]:
        return None
    return 100 * (second["share"] - first["share"])


def runs_judged(run_a: ScoringRun, run_b: ScoringRun) -> JudgedDiff:
    """Both runs' judged picks side by side (grades, then A/B wins), with the differences."""
    filters = Filters(titles=sorted({run_a.title_id, run_b.title_id}))
    grades = face_labels(filters).grades
    outcomes = _ab_outcomes(filters)
    first, second = (run_judged(run, grades, outcomes) for run in (run_a, run_b))
    empty = grade_cells([])
    grade_rows = []
    for selector in Selection.Selector.values:
        one, two = first.grades.get(selector), second.grades.get(selector)
        if not any(g and g.judged for g in (one, two)):
            continue
        grade_rows.append(
            JudgedRow(
                selector,
                "picks graded",
                f"{one.judged}/{one.picks}" if one else "—",
                f"{two.judged}/{two.picks}" if two else "—",
            )
        )
        cells_one, cells_two = (one.cells if one else empty), (two.cells if two else empty)
        for outcome, label in GRADE_OUTCOMES.items():
            (cell_one, numbers_one), (cell_two, numbers_two) = (
                cells_one[outcome],
                cells_two[outcome],
            )
            difference = _difference(numbers_one, numbers_two)
            grade_rows.append(JudgedRow(selector, label, cell_one, cell_two, difference))
    win_rows = []
    for pair in sorted(set(first.wins) | set(second.wins), key=_pair_order):
        one_wins, two_wins = first.wins.get(pair), second.wins.get(pair)
        what = f"{pair[0]} vs {pair[1]}"
        win_rows.append(
            JudgedRow(
                what,
                f"{pair[0]} better · equal · {pair[1]} better",
                _counts(one_wins),
                _counts(two_wins),
            )
        )
        win_rows.append(
            JudgedRow(
                what,
                f"{pair[0]}'s share of decisive (sign test p)",
                _share(one_wins),
                _share(two_wins),
                _difference(one_wins.share_a[1], two_wins.share_a[1])
                if one_wins and two_wins
                else None,
            )
        )
    not_judged = [
        f"run {judged.run}'s picks were not judged yet"
        for judged in (first, second)
        if not judged.judged
    ]
    return JudgedDiff((first, second), grade_rows, win_rows, not_judged)


def _pair_order(pair: tuple[str, str]) -> tuple[int, int]:
    order = Selection.Selector.values
    return (order.index(pair[0]), order.index(pair[1]))


def _counts(wins: PairWins | None) -> str:
    return f"{wins.wins_a} · {wins.equal} · {wins.wins_b}" if wins else "not compared"


def _share(wins: PairWins | None) -> str:
    if wins is None:
        return "not compared"
    if not wins.share_a[1]["n"]:
        return "no decisive answer"
    return f"{wins.share_a[0]} (p {wins.p:.2g})"


def judged_record(diff: JudgedDiff) -> dict:
    """The comparison as plain data (the JSON of ``diff_runs --json``): each run's numbers,
    then the rows as shown."""
    return {
        "runs": [
            {
                "run": judged.run,
                "grades": [
                    {"selector": g.selector, "picks": g.picks, "judged": g.judged}
                    | {outcome: numbers for outcome, (_, numbers) in g.cells.items()}
                    for g in judged.grades.values()
                ],
                "wins": [
                    {
                        "a": w.a,
                        "b": w.b,
                        "wins_a": w.wins_a,
                        "wins_b": w.wins_b,
                        "equal": w.equal,
                        "a_share_of_decisive": w.share_a[1],
                        "sign_test_p": w.p,
                    }
                    for w in judged.wins.values()
                ],
            }
            for judged in diff.runs
        ],
        "rows": [
            {"what": r.what, "measure": r.measure, "a": r.a, "b": r.b, "difference": r.difference}
            for r in diff.grades + diff.wins
        ],
        "not_judged": diff.not_judged,
    }
