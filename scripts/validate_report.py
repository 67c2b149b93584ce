"""The validate step's outputs: report.md, report.json and token_lengths.png.

validate.py decides what is wrong; this module only shows it: a headline verdict,
a table of checks, every problem with its file:line and what to do, the diversity
audit and the token lengths. Everything is written into a staging folder that
replaces outputs/validate/ in one rename at the end (see `staging_folder`).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict
from pathlib import Path

from .errors import where
from .facts import phrasing_distribution
from .files import replace_folder
from .markdown import table_cell
from .names import name_detector_summary
from .outputs import CheckSummary, PersonalDataScan, ReportCounts, ReportProblem, ValidateReport, write_validate_report
from .privacy import SCAN_COVERS

MAX_LISTED = 20  # problems listed per check in report.md; report.json has them all


def token_stats(values) -> dict:
    import numpy as np

    if len(values) == 0:
        return {"examples": 0}
    array = np.asarray(values)
    return {
        "examples": int(array.size),
        "min": int(array.min()),
        "median": float(np.median(array)),
        "mean": round(float(array.mean()), 1),
        "p95": round(float(np.percentile(array, 95))),
        "max": int(array.max()),
    }


def build_report(data, checks: list, table, diversity: dict, cfg) -> ValidateReport:
    """Everything report.md and report.json show (tokens_per_word is added by validate.py).

    `data` is validate's Datasets, `checks` its Check objects, `table` the example table.
    """
    max_length = cfg.model.max_length
    problems = [problem for check in checks for problem in check.problems]
    failed = [check for check in checks if check.status == "fail"]
    warned = [check for check in checks if check.status == "warn"]
    unlisted = {"fail": sum(check.unlisted for check in failed), "warn": sum(check.unlisted for check in warned)}
    verdict = "fail" if failed else "warn" if warned else "pass"
    fixes = {check.id: check.fix for check in checks}
    lengths = {"limit": max_length, "over_limit": int((table["tokens"] > max_length).sum())}
    for split in ("train", "eval"):
        lengths[split] = token_stats(table.loc[table["split"] == split, "tokens"])
    return ValidateReport(
        verdict=verdict,
        headline=_headline(verdict, len(failed), len(warned)),
        files={split: data.names[split] for split in ("train", "eval", "probes")},
        counts=ReportCounts(
            train=len(data.train),
            eval=len(data.eval),
            probes=len(data.probes),
            checks_failed=len(failed),
            checks_warned=len(warned),
            problems=sum(problem.severity == "fail" for problem in problems) + unlisted["fail"],
            warnings=sum(problem.severity == "warn" for problem in problems) + unlisted["warn"],
        ),
        settings={
            "max_length": max_length,
            "min_examples": cfg.data.min_examples,
            "near_duplicate_threshold": cfg.data.near_duplicate_threshold,
            "languages": cfg.project.languages,
        },
        checks=[check_summary(check) for check in checks],
        problems=[ReportProblem(**asdict(problem), fix=fixes[problem.check]) for problem in problems],
        facts=fact_summary(table),
        personal_data_scan=personal_data_scan(cfg),
        token_lengths=lengths,
        diversity=diversity,
    )


def check_summary(check) -> CheckSummary:
    """validate.Check as the report holds it: its problems counted, not listed (the report lists them apart)."""
    fields = {key: value for key, value in asdict(check).items() if key != "problems"}
    return CheckSummary(**fields, status=check.status, problems=len(check.problems) + check.unlisted)


def personal_data_scan(cfg) -> PersonalDataScan:
    """Which detectors ran, who may be named, and what the author still has to read for (report and card)."""
    names = name_detector_summary(cfg.data)
    return PersonalDataScan(
        finds=SCAN_COVERS,
        names_detector=names["detector"],
        names_cannot_see=names["cannot_see"],
        public_names=list(cfg.data.public_names),
        what_to_do=(
            f"The scan cannot see {names['cannot_see']}. Read every example yourself and replace the names of "
            "private people (anyone not named for a public role) with a made-up name or <PERSON>."
        ),
    )


def fact_summary(table) -> dict:
    """How many phrasings teach the training facts, and how many eval questions ask about a taught fact."""
    if "fact_phrasings" not in table:
        return {}
    train, questions = table["split"] == "train", table.loc[table["split"] == "eval", "fact_taught"]
    phrasings = table.loc[train, "fact_phrasings"].dropna().astype(int).tolist()
    return phrasing_distribution(phrasings) | {
        "eval_taught": int(questions.eq(True).sum()),  # the column holds True, False and None
        "eval_untaught": int(questions.eq(False).sum()),
        "eval_not_checkable": int(questions.isna().sum()),  # no `answer` field to match
    }


def plural(count: int, one: str, several: str) -> str:
    return f"{count} {one if count == 1 else several}"


def _headline(verdict: str, failed: int, warned: int) -> str:
    if verdict == "fail":
        return f"❌ Not ready to train: {plural(failed, 'check', 'checks')} failed"
    if verdict == "warn":
        return f"✅ Ready to train; {plural(warned, 'check has', 'checks have')} warnings to read"
    return "✅ Ready to train: every check passed"


STATUS_ICONS = {"pass": "✅ pass", "warn": "⚠️ warn", "fail": "❌ fail"}


def render_markdown(report: ValidateReport) -> str:
    counts, files = report.counts, report.files
    lines = [f"# Data check: {report.headline}", ""]
    if report.verdict == "fail":
        lines += ["Training on this data would teach the model mistakes or give misleading scores. "
                  "Fix each problem under **Problems to fix** (every one names the file, line and field), "
                  "then run `python -m scripts validate` again.", ""]  # fmt: skip
    elif report.verdict == "warn":
        lines += ["Nothing blocks training. Each warning below says why it may matter; fix what you agree with.", ""]
    probes = f" and **{counts.probes}** bias probe pairs (`{files['probes']}`)" if counts.probes else ""
    lines += [
        f"Checked **{counts.train}** training examples (`{files['train']}`), "
        f"**{counts.eval}** evaluation examples (`{files['eval']}`){probes}.",
        "",
        "| Check | Result | Details |",
        "|---|---|---|",
    ]
    lines += [_check_row(check) for check in report.checks if not check.audit] + [""]
    lines += _problem_sections(report, "fail", "Problems to fix")
    lines += _problem_sections(report, "warn", "Warnings")
    lines += _personal_data_section(report)
    lines += _diversity_section(report)
    lines += _token_section(report.token_lengths)
    lines += tokens_per_word_section(report.tokens_per_word)
    lines += [
        "## Great Expectations",
        "",
        "The rules marked *Great Expectations* above ran as an expectation suite. To see each rule and its result, "
        "open `outputs/validate/data_docs/index.html` in a browser on the computer that ran `python -m scripts validate` "
        "(the index loads its list and styles from the internet: offline, open the page in "
        "`outputs/validate/data_docs/validations/` instead).",
        "",
    ]
    return "\n".join(lines)


def _check_row(check: CheckSummary) -> str:
    engine = " *(Great Expectations)*" if check.engine == "Great Expectations" else ""
    found = f"{check.problems} found" if check.problems else ""
    details = "; ".join(part for part in (found, check.details) if part)
    return f"| {check.title}{engine} | {STATUS_ICONS[check.status]} | {table_cell(details, empty='')} |"


def _problem_sections(report: ValidateReport, severity: str, heading: str) -> list[str]:
    problems = [problem for problem in report.problems if problem.severity == severity]
    if not problems:
        return []
    total = report.counts.problems if severity == "fail" else report.counts.warnings
    lines = [f"## {heading} ({total})", ""]
    for check in report.checks:
        mine = [problem for problem in problems if problem.check == check.id]
        if not mine:
            continue
        lines += [f"### {check.title} ({len(mine) + check.unlisted})", "", f"**What to do:** {check.fix}", ""]
        for problem in mine[:MAX_LISTED]:
            place = where(problem.file, problem.line, problem.field) if problem.file else "whole dataset"
            lines.append(f"- `{place}`: {problem.message}")
        if len(mine) > MAX_LISTED:
            lines.append(f"- … and {len(mine) - MAX_LISTED} more (all are listed in report.json)")
        if check.unlisted:
            lines.append(f"- … and {check.unlisted} more like these (only the first {len(mine)} are named, here and in report.json)")
        lines.append("")
    return lines


def _personal_data_section(report: ValidateReport) -> list[str]:
    scan = report.personal_data_scan
    return [
        "## Personal data: what the scan cannot see",
        "",
        f"The scan looks for {scan.finds}. Names of people are found by {scan.names_detector}; "
        f"names in `[data] public_names` are not reported ({', '.join(scan.public_names) or 'none listed'}).",
        "",
        f"⚠️ {scan.what_to_do}",
        "",
    ]


HIGH_TOKENS_PER_WORD = 1.5  # times the English figure: above this, the report says what it means


def tokens_per_word_section(figures: dict | None) -> list[str]:
    """Tokens per word of each declared language beside English, and what a high figure means."""
    if not figures:
        return []
    english = figures["english_reference"]
    lines = [
        "## Tokens per word, by language",
        "",
        f"With the chosen model's tokenizer; English (a reference paragraph) takes {english} tokens per word.",
        "",
        "| language | tokens per word | examples |",
        "|---|---|---|",
    ]
    high = []
    for code, row in figures["languages"].items():
        value = row["tokens_per_word"]
        lines.append(f"| {code} | {value if value is not None else 'no example found'} | {row['examples']} |")
        if value is not None and value > HIGH_TOKENS_PER_WORD * english:
            high.append(f"{code} ({value / english:.1f}x English)")
    if high:
        lines += ["", f"**{', '.join(high)}: many more tokens per word than English.** The base model has seen little of "
                  "this language, so its answers in it will be weaker, each example fills more of max_length, and "
                  "training takes longer. Consider a base model trained on the language (`python -m scripts models`)."]  # fmt: skip
    if any(row["examples"] == 0 for row in figures["languages"].values()):
        lines += ["", "A language with no example found: the language check cannot recognise it; add "
                  '`"language": "<code>"` to its records.']  # fmt: skip
    return lines + [""]


def _diversity_section(report: ValidateReport) -> list[str]:
    lines = [
        "## Diversity audit",
        "",
        "These never fail the check. They describe who and what the training data is about, "
        "because a model learns its blind spots from its data.",
        "",
        "| Aspect | Result | What we saw |",
        "|---|---|---|",
    ]
    lines += [_check_row(check) for check in report.checks if check.audit]
    words = report.diversity["gendered_words"]
    if words["male"] or words["female"]:
        sides = {"male": "about men", "female": "about women"}
        lines += ["", "Gendered words in the training data: "
                  + "; ".join(f"{sides[side]}: " + ", ".join(f"{word} {count}" for word, count in counts.items())
                              for side, counts in words.items() if counts) + "."]  # fmt: skip
    return lines + [""]


def _token_section(lengths: dict) -> list[str]:
    lines = [
        "## Token lengths",
        "",
        f"Counted with the base model's tokenizer and chat template, as training sees them. "
        f"The limit is [model] max_length = {lengths['limit']}; {plural(lengths['over_limit'], 'example is', 'examples are')} longer.",
        "",
        "| File | Examples | Min | Median | 95th percentile | Max |",
        "|---|---|---|---|---|---|",
    ]
    for split in ("train", "eval"):
        stats = lengths[split]
        if stats["examples"]:
            lines.append(f"| {split} | {stats['examples']} | {stats['min']} | {stats['median']:g} | {stats['p95']:g} | {stats['max']} |")
    return lines + ["", "Histogram: `token_lengths.png` next to this report.", ""]


def plot_token_lengths(table, max_length: int, path: Path) -> None:
    """A histogram of tokens per example for train and eval, with the limit drawn as a red line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
    import numpy as np

    # Very long outliers would squash every other bar to the left, so they are drawn in the last bar.
    right_edge = max(int(max_length * 1.5), 8)
    bins = np.linspace(0, right_edge, min(right_edge, 60) + 1)
    figure, axes = plt.subplots(figsize=(8, 5), dpi=100)
    splits = [(split, table.loc[table["split"] == split, "tokens"].to_numpy()) for split in ("train", "eval")]
    splits = [(split, values) for split, values in splits if values.size]
    if splits:
        axes.hist(
            [np.minimum(values, right_edge) for _, values in splits],
            bins=bins,
            stacked=True,
            color=["#1f77b4", "#ff7f0e"][: len(splits)],
            label=[f"{split} ({values.size} examples)" for split, values in splits],
        )
    axes.axvline(max_length, color="red", linestyle="--", linewidth=2, label=f"max_length = {max_length}: longer examples are cut")
    over = int((table["tokens"] > right_edge).sum())
    title = "Tokens per example, as training sees them (chat template applied)"
    if over:
        title += f"\n{plural(over, 'example', 'examples')} longer than {right_edge} (up to {int(table['tokens'].max())}) drawn in the last bar"
    axes.set_title(title)
    axes.set_xlabel("tokens")
    axes.set_ylabel("examples")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no 0.5 examples
    axes.set_xlim(0, right_edge)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3, frameon=False)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


class staging_folder:
    """`with staging_folder(out) as tmp:` write into tmp; on success tmp replaces `out` in one rename.

    A crash inside the block deletes tmp and leaves any earlier report untouched.
    """

    def __init__(self, target: Path):
        self.target = target

    def __enter__(self) -> Path:
        self.staging = self.target.with_name(f".{self.target.name}.partial-{os.getpid()}")
        shutil.rmtree(self.staging, ignore_errors=True)  # left over from a run that was killed
        self.staging.mkdir(parents=True)
        return self.staging

    def __exit__(self, error_type, error, traceback):
        if error_type is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            return False
        replace_folder(self.staging, self.target)
        return False


def print_summary(report: ValidateReport, out: Path) -> None:
    counts = report.counts
    print(report.headline)
    print(f"  {counts.train} train, {counts.eval} eval, {counts.probes} probe pairs")
    for check in report.checks:
        if check.status != "pass":
            print(f"  {check.status.upper():4}  {check.title} ({check.problems} found)")
        if check.in_terminal:  # a few problems worth reading here, not only in the report
            for problem in report.problems:
                if problem.check == check.id:
                    print(f"        {where(problem.file, problem.line, problem.field)}: {problem.message}")
    print(f"Report: {out / 'report.md'} (also report.json, token_lengths.png, data_docs/index.html)")


def write_outputs(staging: Path, report: ValidateReport, table, max_length: int) -> str:
    """Write report.json, report.md and token_lengths.png into the staging folder; return the markdown."""
    plot_token_lengths(table, max_length, staging / "token_lengths.png")
    write_validate_report(staging, report)
    markdown = render_markdown(report)
    (staging / "report.md").write_text(markdown, encoding="utf-8")
    return markdown
