"""Is the gain real? Confidence intervals and a paired test for accuracy (shared by evaluate, card, rubric and run).

With 40 questions one question is worth 2.5 percentage points, so "5% -> 12%"
can be three lucky answers. Two numbers tell a reader how far to trust a change:

  * a 95% interval for each accuracy: the range the accuracy could plausibly
    take on other questions of the same kind (Wilson score interval);
  * a paired test: base and tuned answered the *same* questions, so what matters
    is the questions only one of them got right. If tuning changed nothing, each
    such question is a coin flip between "only base" and "only tuned"; exact
    McNemar asks how surprising the observed split is under that coin flip.

Written with `math.comb` rather than SciPy: SciPy is only here because two other
libraries pull it in, not a dependency of this project, and the two formulas
are a few lines each that a learner can check by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for the annotations: outputs.py holds what evaluate wrote
    from .outputs import ByTaught, EvaluateMetrics, ModelScore

Z_95 = 1.959964  # the standard normal quantile for a two-sided 95% interval
SIGNIFICANT = 0.05  # a paired test's p-value below this counts as a real difference (verdict)


@dataclass
class Accuracy:
    """How many questions one model got right, with a 95% interval for the share."""

    correct: int
    total: int
    low: float
    """Lower end of the 95% Wilson interval (a share between 0 and 1)."""
    high: float
    """Upper end of the 95% Wilson interval."""

    @property
    def share(self) -> float:
        return self.correct / self.total if self.total else 0.0


@dataclass
class PairedTest:
    """Exact McNemar test on the questions where base and tuned disagree."""

    only_base_correct: int
    """Questions the base model got right and the tuned model got wrong."""
    only_tuned_correct: int
    """Questions the tuned model got right and the base model got wrong."""
    p_value: float
    """Two-sided: how often a split at least this lopsided happens if tuning made no difference."""


def wilson_interval(correct: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """95% Wilson score interval for `correct` out of `total`.

    Why Wilson and not the textbook "p ± 1.96·sqrt(p(1-p)/n)": that one shrinks to
    a single point at 0% and 100% (0 of 40 would read as "certainly 0%") and can
    run below 0 or above 100% on small n. Wilson stays inside 0-100%, is never
    zero-width, and keeps close to its stated 95% coverage with 40 questions.
    """
    if total == 0:
        return 0.0, 1.0
    share = correct / total
    denominator = 1 + z * z / total
    centre = (share + z * z / (2 * total)) / denominator
    half = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def accuracy(correct: list[bool]) -> Accuracy:
    """Count, share and 95% interval from one model's right/wrong answers."""
    right, total = sum(correct), len(correct)
    low, high = wilson_interval(right, total)
    return Accuracy(correct=right, total=total, low=low, high=high)


def exact_mcnemar(only_base_correct: int, only_tuned_correct: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test (n = discordant questions, p = 1/2).

    p = 2 x P(X <= the smaller count) for X ~ Binomial(n, 1/2), capped at 1.
    No disagreements at all (n = 0) is no evidence of a change: p = 1.
    """
    discordant = only_base_correct + only_tuned_correct
    if discordant == 0:
        return 1.0
    smaller = min(only_base_correct, only_tuned_correct)
    tail = sum(math.comb(discordant, k) for k in range(smaller + 1)) / 2**discordant
    return min(1.0, 2 * tail)


def fewest_questions_to_tell() -> int:
    """The fewest eval questions with which the paired test can say "real difference" at all (6):
    even when only the tuned model gets every one of them right, fewer give p >= SIGNIFICANT."""
    questions = 1
    while exact_mcnemar(0, questions) >= SIGNIFICANT:
        questions += 1
    return questions


def paired_test(base_correct: list[bool], tuned_correct: list[bool]) -> PairedTest:
    """Exact McNemar on two models' right/wrong answers to the same questions, in the same order."""
    if len(base_correct) != len(tuned_correct):
        raise ValueError("the paired test needs both models' answers to the same questions")
    only_base = sum(1 for base, tuned in zip(base_correct, tuned_correct) if base and not tuned)
    only_tuned = sum(1 for base, tuned in zip(base_correct, tuned_correct) if tuned and not base)
    return PairedTest(only_base, only_tuned, exact_mcnemar(only_base, only_tuned))


# ---------------------------------------------------------------- words (read from metrics.json)


def format_p(p_value: float) -> str:
    """p < 0.001, p = 0.004, p = 0.21, p = 1."""
    if p_value < 0.001:
        return "p < 0.001"
    if p_value < 0.01:
        return f"p = {p_value:.3f}"
    return f"p = {p_value:.2f}".replace("p = 1.00", "p = 1")


def format_interval(low: float, high: float) -> str:
    """[1-17%]: the interval in whole percent."""
    return f"[{low:.0%}-{high:.0%}]".replace("%-", "-")


def accuracy_text(model: ModelScore) -> str:
    """"5% [1-17%]" from a model's entry in metrics.json."""
    return f"{model.accuracy:.0%} {format_interval(*model.interval_95)}"


def accuracy_headline(metrics: EvaluateMetrics) -> str:
    """One line for the terminal: accuracy 5% [1-17%] -> 62% [47-76%] on 40 questions, paired test p < 0.001."""
    return (
        f"accuracy {accuracy_text(metrics.base)} -> {accuracy_text(metrics.tuned)} "
        f"on {metrics.eval_examples} questions, paired test {format_p(metrics.paired_test.p_value)}"
    )


def verdict(metrics: EvaluateMetrics) -> str:
    """The paired test in plain words, for the card and the pull request."""
    test = metrics.paired_test
    only_base, only_tuned = test.only_base_correct, test.only_tuned_correct
    split = (
        f"{only_tuned} questions only the tuned model got right, {only_base} only the base model got right"
    )
    if only_base + only_tuned == 0:
        return "Both models got exactly the same questions right: no evidence that tuning changed accuracy."
    if test.p_value < SIGNIFICANT:
        direction = "better" if only_tuned > only_base else "worse"
        return (
            f"{split} ({format_p(test.p_value)}): a split this lopsided is unlikely to be chance, "
            f"so the tuned model is really {direction} on questions like these."
        )
    return (
        f"{split} ({format_p(test.p_value)}): a split like this happens often by chance, "
        "so these questions do not show a real difference; more held-out questions would tell."
    )


def taught_phrase(by_taught: ByTaught) -> str:
    """One phrase where the taught/untaught split has nothing to compare; "" when a table is worth showing."""
    taught, untaught, unknown = by_taught.taught.questions, by_taught.untaught.questions, by_taught.unknown.questions
    if taught == 0 and untaught == 0:
        return "Whether a held-out fact was taught cannot be told: the eval records have no `answer` field."
    if untaught == 0 and unknown:
        return f"No held-out question asks about an untaught fact ({taught} taught, {unknown} without an `answer` field)."
    if untaught == 0:
        return f"All {taught} held-out questions ask about facts the training data teaches: none is untaught."
    return ""
