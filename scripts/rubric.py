"""Pre-score the course rubric from the evidence on disk, for the mentor to confirm.

    python -m scripts rubric                                   # outputs/rubric/rubric.md and rubric.json
    python -m scripts rubric --pr-body --branch results/run-1  # also the results pull request's text

Reads outputs/, results/ and datasets/README.md; runs no model. Each criterion of the rubric
(.github/PULL_REQUEST_TEMPLATE.md) is split into points scored only from a file on disk, shown next to
its score; a point whose file is missing scores 0 and names the step to run. --pr-body also writes
outputs/rubric/pr_body.md, which the Train workflow uses as the results pull request's description.
The rubric, and what a pre-score cannot see: docs/design.md, "Rubric pre-score".
"""

from __future__ import annotations

import csv
import json
import math
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .files import write_atomic
from .github import github_repo, raw_file_url
from .markdown import quoted, table_cell
from .errors import EXIT_OK, UserError
from .outputs import EvaluateMetrics, ModelScore, read_evaluate_metrics, read_train_metrics, read_validate_report
from .probes import MEANING, SPREAD, flag_meaning, flagged_pair_lines
from .stats import SIGNIFICANT, format_interval, format_p, taught_phrase, verdict

PR_MARKER = "<!-- results-pr -->"
PR_BODY_LIMIT = 60_000  # GitHub refuses pull-request descriptions over 65,536 characters


def add_arguments(parser) -> None:
    parser.add_argument("--pr-body", action="store_true", help="also write outputs/rubric/pr_body.md for the results pull request")
    parser.add_argument("--branch", help="the results branch the pull request comes from (for image links)")
    parser.add_argument("--repo", metavar="OWNER/REPO", help="the GitHub repository (default: $GITHUB_REPOSITORY or git origin)")


def main(cfg, args) -> int:
    evidence = Evidence(cfg)
    criteria = score_all(evidence)
    out = cfg.step_dir("rubric")
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "rubric.json", json.dumps(rubric_json(criteria), indent=2, ensure_ascii=False) + "\n")
    write_atomic(out / "rubric.md", rubric_markdown(criteria))
    print(f"Rubric pre-score: {total(criteria):.0f} / 100 (the mentor has the final word). Details: {out / 'rubric.md'}")
    if args.pr_body:
        links = ImageLinks(cfg, args.repo, args.branch)
        write_atomic(out / "pr_body.md", pr_body(evidence, criteria, links))
        print(f"Pull-request text: {out / 'pr_body.md'}")
    return EXIT_OK


# ---------------------------------------------------------------- scoring


@dataclass
class Point:
    """One thing the rubric checks, with its score and the evidence for it."""

    label: str
    max: float
    score: float
    evidence: str


@dataclass
class Criterion:
    name: str
    weight: int
    points: list[Point] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(point.score for point in self.points)


def total(criteria: list[Criterion]) -> float:
    return sum(criterion.score for criterion in criteria)


def missing(label: str, maximum: float, step: str, what: str) -> Point:
    return Point(label, maximum, 0.0, f"missing: run `python -m scripts {step}` ({what} not found)")


def scaled(maximum: float, fraction: float) -> float:
    """maximum x fraction, with the fraction kept between 0 and 1 and the result rounded to a tenth."""
    return round(maximum * min(max(fraction, 0.0), 1.0), 1)


class Evidence:
    """The files the rubric reads; each property is None when its file is missing."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.evaluation = _read_output(read_evaluate_metrics, cfg)
        self.training = _read_output(read_train_metrics, cfg)
        self.loss_csv = cfg.step_dir("train") / "loss_curve.csv"
        self.data_report = _read_output(read_validate_report, cfg)
        self.results = cfg.path("results")
        self.manifest_file = self.results / "manifest.json"

    def read(self, *parts: str) -> str | None:
        path = self.cfg.step_dir(parts[0]).joinpath(*parts[1:])
        return path.read_text(encoding="utf-8") if path.is_file() else None


def score_all(evidence: Evidence) -> list[Criterion]:
    return [
        Criterion("Performance improvement", 40, performance_points(evidence)),
        Criterion("Ethical handling", 30, ethics_points(evidence)),
        Criterion("Integration", 15, integration_points(evidence)),
        Criterion("Documentation and deployment", 15, documentation_points(evidence)),
    ]


ACCURACY_LABEL = "Accuracy on held-out questions improved"
FORGETTING_LABEL = "General knowledge kept (lost beyond chance)"


def performance_points(evidence: Evidence) -> list[Point]:
    metrics = evidence.evaluation
    if metrics is None:
        return [
            missing(ACCURACY_LABEL, 20, "evaluate", "outputs/evaluate/metrics.json"),
            missing("Reference answers became less surprising (perplexity)", 10, "evaluate", "outputs/evaluate/metrics.json"),
            learning_point(evidence),
            missing(FORGETTING_LABEL, 5, "evaluate", "outputs/evaluate/metrics.json"),
        ]
    base, tuned = metrics.base, metrics.tuned
    drop = (base.perplexity - tuned.perplexity) / base.perplexity if base.perplexity else 0.0
    perplexity = Point(
        "Reference answers became less surprising (perplexity)",
        10,
        scaled(10, drop / 0.3),  # full marks for a 30% drop or more
        f"perplexity {base.perplexity:.1f} → {tuned.perplexity:.1f} ({-drop:+.0%}); full marks from -30%",
    )
    return [accuracy_point(metrics), perplexity, learning_point(evidence), forgetting_point(metrics)]


def accuracy_point(metrics: EvaluateMetrics) -> Point:
    """Full marks from +20 points; at most half while the paired test cannot tell the gain from chance."""
    base, tuned, test = metrics.base, metrics.tuned, metrics.paired_test
    gain = (tuned.accuracy - base.accuracy) * 100
    score = scaled(20, gain / 20)
    evidence = f"{base.accuracy:.0%} → {tuned.accuracy:.0%} ({gain:+.0f} points) on {metrics.eval_examples} questions"
    if test:
        evidence += f", paired test {format_p(test.p_value)}"
    evidence += "; full marks from +20 points"
    if test and test.p_value >= SIGNIFICANT and score > 10:
        # +30 points on 10 questions can be luck: a mentor should not read it as a clear win.
        score = 10.0
        evidence += ", at most half while the paired test cannot tell the gain from chance (more held-out questions can)"
    return Point(ACCURACY_LABEL, 20, score, evidence)


def forgetting_point(metrics: EvaluateMetrics) -> Point:
    """One point off for each general question lost beyond what random changes of the same size lose."""
    general = metrics.general_knowledge
    if general is None or not general.file:
        return Point(FORGETTING_LABEL, 5, 0.0, "not measured ([evaluate] general_knowledge is empty, so these points are 0): "
                     "name a file there and run `python -m scripts evaluate`")  # fmt: skip
    known = general.kept + len(general.lost)
    chance = f" (random changes of the same size lost {', '.join(map(str, general.chance_lost))})" if general.chance_lost else ""
    return Point(
        FORGETTING_LABEL,
        5,
        float(max(0, 5 - general.beyond_chance)),
        f"{general.kept} of {known} kept, {len(general.lost)} lost{chance}: {general.beyond_chance} beyond chance; one point off for each",
    )


def learning_point(evidence: Evidence) -> Point:
    label = "The loss curve shows learning (held-out loss went down)"
    if evidence.training is None or not evidence.loss_csv.is_file():
        return missing(label, 5, "train", "outputs/train/metrics.json and loss_curve.csv")
    losses = {"train": [], "eval": []}
    with evidence.loss_csv.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            losses.setdefault(row["split"], []).append(float(row["loss"]))
    every = losses["train"] + losses["eval"]
    if not every or not all(math.isfinite(value) for value in every):
        return Point(label, 5, 0.0, "the loss was not finite or not recorded (outputs/train/loss_curve.csv)")
    curve = losses["eval"] if len(losses["eval"]) >= 2 else losses["train"]
    which = "held-out" if curve is losses["eval"] else "training"
    if len(curve) < 2:
        return Point(label, 5, 2.5, f"only one loss value recorded ({curve[0]:.3f}); train longer to see a curve")
    went_down = curve[-1] < curve[0]
    return Point(
        label,
        5,
        5.0 if went_down else 1.5,
        f"{which} loss {curve[0]:.3f} → {curve[-1]:.3f} over {evidence.training.steps} steps",
    )


def ethics_points(evidence: Evidence) -> list[Point]:
    return [data_report_point(evidence), personal_data_point(evidence), probes_point(evidence), card_fields_point(evidence)]


def data_report_point(evidence: Evidence) -> Point:
    label = "The data report passes"
    report = evidence.data_report
    if report is None:
        return missing(label, 10, "validate", "outputs/validate/report.json")
    scores = {"pass": 10.0, "warn": 8.0, "fail": 0.0}
    return Point(
        label,
        10,
        scores.get(report.verdict, 0.0),
        f"{report.headline} ({report.counts.checks_failed} failed, {report.counts.checks_warned} with warnings)",
    )


def personal_data_point(evidence: Evidence) -> Point:
    label = "No personal data in the datasets"
    report = evidence.data_report
    if report is None:
        return missing(label, 5, "validate", "outputs/validate/report.json")
    check = report.check("personal_data")
    if check is None:
        return Point(label, 5, 0.0, "the data report has no personal-data check; update the template's validate step")
    scores = {"pass": 5.0, "warn": 3.0, "fail": 0.0}
    return Point(label, 5, scores.get(check.status, 0.0), f"personal-data check: {check.status} ({check.problems} found)")


def probes_point(evidence: Evidence) -> Point:
    label = "Bias probes measured; few pairs flagged"
    metrics = evidence.evaluation
    if metrics is None:
        return missing(label, 10, "evaluate", "outputs/evaluate/metrics.json")
    probes = _read_json(evidence.cfg.step_dir("evaluate") / "probes.json") or {}
    pairs = len(probes.get("pairs", []))
    if pairs == 0:
        return Point(label, 10, 0.0, f"no bias probes were run; add counterfactual pairs to {evidence.cfg.data.probes}")
    flagged = metrics.probes_flagged
    ids = ", ".join(metrics.probes_flagged_ids[:10])
    return Point(
        label,
        10,
        5.0 + scaled(5, 1 - flagged / pairs),  # 5 for measuring, up to 5 more for few flags
        f"{pairs} pairs measured, {flagged} flagged (tuning moved the score by more than {metrics.probe_threshold} "
        f"and by more than {SPREAD:g} standard errors)"
        + (f" ({ids}): the mentor reads these" if flagged else ""),
    )


def card_fields_point(evidence: Evidence) -> Point:
    card = evidence.cfg.card
    empty, all_fields = list(card.empty_fields()), len(fields(card))
    filled = all_fields - len(empty)
    return Point(
        "The card's ethics sections are written",
        5,
        scaled(5, filled / all_fields),
        f"{filled} of {all_fields} [card] fields filled in project.toml"
        + (f"; empty: {', '.join(empty)}" if empty else ""),
    )


def integration_points(evidence: Evidence) -> list[Point]:
    cfg = evidence.cfg
    adapter = cfg.step_dir("train") / "adapter" / "adapter_model.safetensors"
    points = [
        Point("A LoRA adapter was trained (safetensors)", 3, 3.0, f"{_shown(cfg, adapter)}, {adapter.stat().st_size:,} bytes")
        if adapter.is_file()
        else missing("A LoRA adapter was trained (safetensors)", 3, "train", "outputs/train/adapter/adapter_model.safetensors")
    ]
    export = cfg.step_dir("export")
    exported = sorted(p for p in export.rglob("*") if p.is_file()) if export.is_dir() else []
    points.append(
        Point("Exported for other apps", 3, 3.0, f"{len(exported)} files in {_shown(cfg, export)}")
        if exported
        else missing("Exported for other apps", 3, "export", "files in outputs/export")
    )
    points.append(manifest_point(evidence))
    points.append(app_point(evidence))
    return points


def manifest_point(evidence: Evidence) -> Point:
    label = "The results bundle verifies (sha256 of every file)"
    if not evidence.manifest_file.is_file():
        return missing(label, 4, "card", "results/manifest.json")
    from .manifest import verify

    manifest = json.loads(evidence.manifest_file.read_text(encoding="utf-8"))
    problems = verify(evidence.cfg, manifest)
    files = sum(len(entry.get("files", [])) for entry in manifest.get("repos", {}).values())
    if problems:
        return Point(label, 4, 0.0, f"{len(problems)} problems, e.g. {problems[0]}")
    return Point(label, 4, 4.0, f"{files} files in {', '.join(manifest.get('repos', {}))} match results/manifest.json")


APP_TRANSCRIPT = "results/integration/transcript.json"  # examples/agent_with_tools.py writes it
SERVED_EXPORT = "outputs/export/merged"  # the model `python -m scripts serve` serves, by the name it gives it


def app_point(evidence: Evidence) -> Point:
    """An app asked the current export through the endpoint: the example app's transcript says so."""
    label = "An app used the exported model through its endpoint"
    transcript = _read_json(evidence.cfg.path(APP_TRANSCRIPT))
    if not isinstance(transcript, dict) or not isinstance(transcript.get("turns"), list):
        return Point(
            label, 5, 0.0,
            f"missing: run `make serve`, then `python examples/agent_with_tools.py` ({APP_TRANSCRIPT} not found or unreadable)",
        )
    answered = [
        turn for turn in transcript["turns"]
        if isinstance(turn, dict) and turn.get("tool") == "tuned model" and str(turn.get("answer", "")).strip()
    ]
    model = str(transcript.get("model", ""))
    where = f"{APP_TRANSCRIPT}: {transcript.get('app', 'an app')} via {transcript.get('endpoint', '?')}"
    if not model.rstrip("/").endswith(SERVED_EXPORT):
        return Point(label, 5, 0.0, f"{where} asked {model!r}, not the exported model ({SERVED_EXPORT}); run it against `make serve`")
    stale = stale_transcript(evidence, transcript)
    if stale:
        return Point(label, 5, 0.0, f"{where}: {stale}")
    if not answered:
        return Point(label, 5, 0.0, f"{where}: no question was answered by the tuned model; ask it a Namibia question")
    others = len(transcript["turns"]) - len(answered)
    return Point(
        label, 5, 5.0,
        f"{where}: {len(answered)} answers from {model}, {others} from other tools; "
        f"asked the current export (adapter {transcript['adapter_sha256'][:12]})",
    )  # fmt: skip


def stale_transcript(evidence: Evidence, transcript: dict) -> str | None:
    """Why the transcript is not evidence about the current export (None when it is): an app's answers from an
    older export say nothing about the model under review, so the adapter it was made from must match."""
    current = (_read_json(evidence.cfg.step_dir("export") / "export.json") or {}).get("adapter_sha256")
    asked = transcript.get("adapter_sha256")
    again = "run `make serve` and `python examples/agent_with_tools.py` again, from the project folder"
    if not current:
        return f"no current export to compare with (outputs/export/export.json without adapter_sha256); run `python -m scripts export`, then {again}"
    if not asked:
        return f"it does not say which export answered (no adapter_sha256: an older app?); {again}"
    if asked != current:
        return f"stale: it asked an export of adapter {str(asked)[:12]}, but the current export is of adapter {str(current)[:12]}; {again}"
    return None


def documentation_points(evidence: Evidence) -> list[Point]:
    return [card_point(evidence), datasheet_point(evidence), space_point(evidence), publish_point(evidence)]


def card_point(evidence: Evidence) -> Point:
    label = "Model card rendered, with metadata"
    card = evidence.results / "model" / "README.md"
    if not card.is_file():
        return missing(label, 5, "card", "results/model/README.md")
    text = card.read_text(encoding="utf-8")
    front_matter = text.split("---", 2)[1] if text.startswith("---") and text.count("---") >= 2 else ""
    checks = {
        "YAML front matter": bool(front_matter),
        "license": "license:" in front_matter,
        "base_model": "base_model" in front_matter,
        "no unrendered {{ }}": "{{" not in text,
        "an evaluation section": "valuation" in text,
    }
    passed = [name for name, ok in checks.items() if ok]
    failed = [name for name, ok in checks.items() if not ok]
    return Point(
        label,
        5,
        scaled(5, len(passed) / len(checks)),
        f"results/model/README.md, {len(text):,} characters; has {', '.join(passed) or 'none of the checks'}"
        + (f"; lacks {', '.join(failed)}" if failed else ""),
    )


def datasheet_point(evidence: Evidence) -> Point:
    datasheet = evidence.cfg.path("datasets/README.md")
    if not datasheet.is_file():
        return Point("Datasheet for the data", 3, 0.0, "missing: write datasets/README.md (sources, licence, consent, known gaps)")
    words = len(datasheet.read_text(encoding="utf-8").split())
    return Point("Datasheet for the data", 3, scaled(3, words / 300), f"datasets/README.md, {words} words; full marks from 300")


def space_point(evidence: Evidence) -> Point:
    label = "Demo Space built"
    space = evidence.results / "space"
    entry = next((name for name in ("index.html", "app.py") if (space / name).is_file()), None)
    if entry is None:
        return missing(label, 4, "space", "results/space/index.html or app.py")
    files = sum(1 for p in space.rglob("*") if p.is_file())
    return Point(label, 4, 4.0, f"results/space/{entry} and {files - 1} more files ({evidence.cfg.publish.space_kind} Space)")


def publish_point(evidence: Evidence) -> Point:
    from .manifest import repo_ids

    ids = repo_ids(evidence.cfg)
    if not all(ids.values()):
        return Point(
            "Hub repos named, ready to publish",
            3,
            0.0,
            "missing: set [project] hub_owner (or [publish] model_repo, space_repo and dataset_repo) in project.toml",
        )
    visibility = "private" if evidence.cfg.publish.dataset_private else "public"
    return Point(
        "Hub repos named, ready to publish", 3, 3.0,
        f"model {ids['model']}, Space {ids['space']}, dataset {ids['dataset']} ({visibility})",
    )  # fmt: skip


# ---------------------------------------------------------------- reports


def rubric_json(criteria: list[Criterion]) -> dict:
    return {
        "total": round(total(criteria), 1),
        "out_of": 100,
        "note": "A pre-score from the evidence on disk; the mentor has the final word.",
        "criteria": [
            {"name": c.name, "weight": c.weight, "score": round(c.score, 1), "points": [asdict(p) for p in c.points]}
            for c in criteria
        ],
    }


def rubric_markdown(criteria: list[Criterion]) -> str:
    lines = [
        f"## Rubric pre-score: {total(criteria):.0f} / 100",
        "",
        "Scored by `python -m scripts rubric` from the files on disk. It can check that things were measured and "
        "written, not whether they are good: **the mentor has the final word** and may change any score.",
        "",
        "| Criterion | Weight | Pre-score |",
        "|---|---:|---:|",
    ]
    lines += [f"| {c.name} | {c.weight}% | {c.score:.1f} / {c.weight} |" for c in criteria]
    lines += [f"| **Total** | 100% | **{total(criteria):.1f} / 100** |", ""]
    for criterion in criteria:
        lines += [f"### {criterion.name} ({criterion.score:.1f} / {criterion.weight})", "", "| Point | Score | Evidence |", "|---|---:|---|"]
        lines += [f"| {table_cell(p.label, empty='')} | {p.score:.1f} / {p.max:g} | {table_cell(p.evidence, empty='')} |" for p in criterion.points]
        lines.append("")
    return "\n".join(lines)


class ImageLinks:
    """Links to images committed under results/, as GitHub shows them in a pull request."""

    def __init__(self, cfg, repo: str | None, branch: str | None):
        self.cfg = cfg
        self.repo = repo or github_repo(cfg.root)
        self.branch = branch

    def find(self, name: str) -> str | None:
        """The path (from the project folder) of results/**/name, or None."""
        results = self.cfg.path("results")
        found = sorted(results.rglob(name)) if results.is_dir() else []
        return found[0].relative_to(self.cfg.root).as_posix() if found else None

    def image(self, name: str, alt: str) -> str:
        path = self.find(name)
        if path is None:
            return f"_{alt}: not in results/ (run `python -m scripts card`)_"
        if self.repo and self.branch:
            return f"![{alt}]({raw_file_url(self.repo, self.branch, path)})"
        return f"![{alt}]({path})"


def pr_body(evidence: Evidence, criteria: list[Criterion], links: ImageLinks) -> str:
    """The results pull request's description: everything a mentor needs on one page."""
    before = [
        PR_MARKER,
        "## Training results for review",
        "",
        "Merging this pull request publishes exactly these files to the Hugging Face Hub "
        "(the publish workflow checks every sha256 in `results/manifest.json` first).",
        "",
        quoted(metrics_section(evidence)),  # quotes general questions the model lost
    ]
    after = [
        "### Loss curve and before/after chart",
        "",
        links.image("loss_curve.png", "Loss curve"),
        "",
        links.image("chart.png", "Accuracy, perplexity and everyday questions kept, base vs tuned"),
        "",
        probes_section(evidence),
        quoted(data_section(evidence)),
        quoted(rubric_markdown(criteria)),  # its evidence may quote the learner's files
        "### Mentor checklist",
        "",
        "- [ ] The tuned model beats the base model on the held-out questions, and the side-by-side answers agree",
        "- [ ] Every flagged bias probe is read; the card's known biases mention what matters",
        "- [ ] The model card (`results/model/README.md`) is honest about intended use and limitations",
        "- [ ] The demo Space (`results/space/`) works and says what the model cannot do",
        "- [ ] Scores adjusted where the pre-score is wrong; **merge publishes**",
        "",
    ]
    fixed = "\n".join(before + after)
    side_by_side = quoted(evidence.read("evaluate", "side_by_side.md") or "missing: run `python -m scripts evaluate`")
    room = PR_BODY_LIMIT - len(fixed) - 300  # the side-by-side table is what gets shortened
    if len(side_by_side) > room:
        side_by_side = side_by_side[: max(room, 0)] + "\n\n… (shortened: outputs/evaluate/side_by_side.md has all rows)"
    details = f"<details><summary>{side_by_side_summary(evidence.evaluation)}</summary>\n\n{side_by_side}\n</details>\n"
    return "\n".join(before + [details] + after)


def side_by_side_summary(metrics: EvaluateMetrics | None) -> str:
    """The fold's title; it says when the table holds only the first questions, whose share right is not the accuracy."""
    total = metrics.eval_examples if metrics else None
    shown = metrics.settings.get("side_by_side") if metrics else None  # [evaluate] as run: a plain dict
    if not total or shown is None:
        return "Side-by-side answers: question, expected, base model, tuned model"
    which = f"all {total}" if shown >= total else f"the first {shown} of the {total}"
    return f"Side-by-side answers to {which} held-out questions: question, expected, base model, tuned model"


def metrics_section(evidence: Evidence) -> str:
    metrics = evidence.evaluation
    if metrics is None:
        return "### Metrics\n\nmissing: run `python -m scripts evaluate`\n"
    base, tuned = metrics.base, metrics.tuned
    training = evidence.training
    rows = [
        "### Metrics",
        "",
        f"Base model `{metrics.base_model}` ({metrics.base_weights}), {metrics.eval_examples} held-out questions.",
        "",
        "| Metric | Base | Tuned | Change |",
        "|---|---:|---:|---:|",
        f"| Accuracy (higher is better) | {_accuracy_cell(base)} | {_accuracy_cell(tuned)} | "
        f"{(tuned.accuracy - base.accuracy) * 100:+.0f} points |",
        f"| Perplexity (lower is better) | {base.perplexity:.2f} | {tuned.perplexity:.2f} | "
        f"{tuned.perplexity - base.perplexity:+.2f} |",
        "",
        *significance_lines(metrics),
    ]
    if training:
        rows += [
            "",
            f"Training: {training.steps} steps, {training.seconds} s on {training.hardware} "
            f"({training.precision}); final train loss {training.final_train_loss}, "
            f"eval loss {training.final_eval_loss}.",
        ]
    return "\n".join(rows) + "\n"


def _accuracy_cell(model: ModelScore) -> str:
    """45% (18 of 40) [31-60%]: the share, the count and the 95% interval, where evaluate measured them."""
    if model.interval_95 is None:
        return f"{model.accuracy:.0%}"
    return f"{model.accuracy:.0%} ({model.correct} of {model.total}) {format_interval(*model.interval_95)}"


def significance_lines(metrics: EvaluateMetrics) -> list[str]:
    """Whether the gain is real: the paired test, accuracy on taught and untaught facts, and forgetting."""
    if None in (metrics.paired_test, metrics.by_taught, metrics.general_knowledge):
        return ["Intervals, paired test and forgetting check: not measured; run `python -m scripts evaluate` again."]
    lines = [
        "Accuracy in brackets: 95% interval (Wilson). "
        f"**Paired test** (exact McNemar, same questions for both models): {verdict(metrics)}",
        "",
    ]
    by_taught = metrics.by_taught
    phrase = taught_phrase(by_taught)
    if phrase:
        lines += [f"**Taught and untaught facts:** {phrase}", ""]
    else:
        lines += ["| Held-out questions | Questions | Base | Tuned |", "|---|---:|---:|---:|"]
        names = {"taught": "Facts taught in training", "untaught": "Facts never taught", "unknown": "Cannot tell (no `answer`)"}
        for name, group in by_taught.groups().items():
            if group.questions:
                base = f"{group.base_accuracy:.0%} ({group.base_correct} of {group.questions})"
                tuned = f"{group.tuned_accuracy:.0%} ({group.tuned_correct} of {group.questions})"
                lines.append(f"| {names[name]} | {group.questions} | {base} | {tuned} |")
        lines.append("")
    general = metrics.general_knowledge
    if general.lost:
        lines += [
            "> [!WARNING]",
            f"> **Forgetting:** {table_cell(general.summary, empty='')}",
            ">",
            "> The tuned model now gets wrong general questions the base model answered right: "
            "see `results/evaluation/general_knowledge.md`.",
        ]
    else:
        lines.append(f"**Forgetting check:** {table_cell(general.summary, empty='')}")
    return lines


def probes_section(evidence: Evidence) -> str:
    metrics = evidence.evaluation
    probes = evidence.read("evaluate", "probes.md")
    if metrics is None or probes is None:
        return "### Bias probes\n\nmissing: run `python -m scripts evaluate`\n"
    report = _read_json(evidence.cfg.step_dir("evaluate") / "probes.json") or {}
    flagged = [pair for pair in report.get("pairs", []) if pair.get("flagged")]
    ids = ", ".join(str(pair["id"]) for pair in flagged)  # str: a probes.json from before validate refused "id": 1
    headline = f"**{len(flagged)} flagged** for a person to read: {ids}" if flagged else "No pair was flagged."
    # What a flag means, and each flagged pair's answers (base and tuned), so the mentor reads the content here.
    details = [flag_meaning(metrics.probe_threshold), *(line for pair in flagged for line in ["", *flagged_pair_lines(pair)])]
    body = quoted("\n".join([headline, "", *details]))  # the model's answers to the probes
    return f"### Bias probes\n\n{body}\n\n<details><summary>All probe pairs</summary>\n\n{quoted(probe_table(probes))}\n</details>\n"


def probe_table(probes_md: str) -> str:
    """probes.md's table of every pair with what its score means; the flag's meaning and the flagged pairs are above."""
    start = probes_md.find("| Pair |")
    return probes_md if start < 0 else f"{MEANING}\n\n{probes_md[start:]}"


def data_section(evidence: Evidence) -> str:
    report = evidence.data_report
    if report is None:
        return "### Data report\n\nmissing: run `python -m scripts validate`\n"
    counts = report.counts
    return (
        f"### Data report\n\n{report.headline}: {counts.train} training, "
        f"{counts.eval} held-out examples, {counts.probes} probe pairs.\n"
    )


def _read_output(read, cfg):
    """A step's typed output (scripts/outputs.py); None, with a warning, when it is not what this version writes."""
    try:
        return read(cfg)
    except UserError as error:
        print(f"warning: {error} The rubric scores it as missing.", file=sys.stderr)
        return None


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _shown(cfg, path: Path) -> str:
    try:
        return path.relative_to(cfg.root).as_posix()
    except ValueError:
        return str(path)

