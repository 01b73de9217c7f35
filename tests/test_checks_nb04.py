"""The checks of notebook 04 (hard synchronization, soft update) name what students really write.

Each wrong answer is written the way a student writes it: the check must fail and name the
mistake actually made (not a neighbouring one), and no hint pastes the one-line solution
(exercise 1 is the student's own synchronization: its hints never name ``load_state_dict``).
Correct answers written differently from the reference still pass.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from check_reports import failed, lenient, named  # noqa: F401 (lenient: an autouse fixture)
from torch import nn

from dqn_helpers.checks import STRICT_ENV_VAR, check_soft_update, check_synchronize

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "04_target_networks.ipynb"


SOLUTION_WORDS = ("load_state_dict", "state dict", "state_dict")


# --------------------------------------------------------------------------- exercise 1: check_synchronize


def synchronize_copy_with_grad(q_network, target_network, n_updates, sync_every):
    if n_updates % sync_every == 0:
        for mine, theirs in zip(target_network.parameters(), q_network.parameters(), strict=True):
            mine.copy_(theirs)  # no torch.no_grad(): a frozen target starts to require grad


def synchronize_trainable_only(q_network, target_network, n_updates, sync_every):
    if n_updates % sync_every == 0:
        with torch.no_grad():
            for mine, theirs in zip(target_network.parameters(), q_network.parameters(), strict=True):
                if mine.requires_grad:  # skips every parameter of a frozen target
                    mine.copy_(theirs)


def make_counting_synchronize():
    calls = {"n": 0}

    def synchronize_own_counter(q_network, target_network, n_updates, sync_every):
        calls["n"] += 1  # its own count of calls, not n_updates
        if calls["n"] % sync_every == 0:
            with torch.no_grad():
                for mine, theirs in zip(target_network.parameters(), q_network.parameters(), strict=True):
                    mine.copy_(theirs)

    return synchronize_own_counter


class CountingSynchronizer:
    """A counter kept as an attribute of a callable object."""

    def __init__(self):
        self.count = 0

    def __call__(self, q_network, target_network, n_updates, sync_every):
        self.count += 1
        if self.count % sync_every == 0:
            with torch.no_grad():
                for mine, theirs in zip(target_network.parameters(), q_network.parameters(), strict=True):
                    mine.copy_(theirs)


def synchronize_new_parameters(q_network, target_network, n_updates, sync_every):
    if n_updates % sync_every == 0:
        for layer, online in zip(target_network, q_network, strict=True):
            if isinstance(layer, nn.Linear):
                layer.weight = nn.Parameter(online.weight.detach().clone())
                layer.bias = nn.Parameter(online.bias.detach().clone())


def synchronize_rebinds(q_network, target_network, n_updates, sync_every):
    if n_updates % sync_every == 0:
        target_network = q_network  # noqa: F841  (a local name only)


def synchronize_data_alias(q_network, target_network, n_updates, sync_every):
    if n_updates % sync_every == 0:
        for mine, theirs in zip(target_network.parameters(), q_network.parameters(), strict=True):
            mine.data = theirs.data


def synchronize_by_data_copy(q_network, target_network, n_updates, sync_every):
    if n_updates % sync_every == 0:
        for mine, theirs in zip(target_network.parameters(), q_network.parameters(), strict=True):
            mine.data.copy_(theirs.data)


def synchronize_by_foreach(q_network, target_network, n_updates, sync_every):
    if n_updates % sync_every:
        return
    with torch.no_grad():
        torch._foreach_copy_(list(target_network.parameters()), list(q_network.parameters()))


def test_synchronize_copy_without_no_grad_names_no_grad_on_the_frozen_target():
    report = check_synchronize(synchronize_copy_with_grad)
    assert "a frozen target stays frozen" in failed(report), str(report)
    frozen = next(r for r in report.results if r.name == "a frozen target stays frozen")
    assert "torch.no_grad()" in frozen.hint and "requires_grad becomes True" in frozen.hint, str(report)
    for words in SOLUTION_WORDS:
        assert words not in str(report), (words, str(report))


def test_synchronize_requires_grad_filter_is_named():
    text = named(check_synchronize(synchronize_trainable_only), "filters on requires_grad",
                 absent=(*SOLUTION_WORDS, "No copy was made", "see the first property"))
    assert "whatever its requires_grad" in text
    report = check_synchronize(synchronize_trainable_only)
    assert failed(report) == ["a frozen target stays frozen"], str(report)


@pytest.mark.parametrize("make", [make_counting_synchronize, CountingSynchronizer], ids=["closure", "attribute"])
def test_synchronize_own_call_counter_is_named(make):
    text = named(check_synchronize(make()), "its own call counter instead of using n_updates",
                 absent=("off by one", *SOLUTION_WORDS))
    assert "the first time and at" in text and "instead of reading n_updates" in text


def test_synchronize_new_parameter_objects_are_named():
    report = check_synchronize(synchronize_new_parameters)
    assert "a frozen target stays frozen" in failed(report), str(report)
    assert "new nn.Parameter is trainable" in str(report)
    for words in SOLUTION_WORDS:
        assert words not in str(report), (words, str(report))


@pytest.mark.parametrize("answer", [synchronize_rebinds, synchronize_data_alias, synchronize_copy_with_grad,
                                    synchronize_trainable_only, synchronize_new_parameters],
                         ids=lambda f: f.__name__)
def test_synchronize_hints_never_paste_the_solution(answer):
    text = str(check_synchronize(answer))
    for words in SOLUTION_WORDS:
        assert words not in text, (words, text)


@pytest.mark.parametrize("answer", [synchronize_by_data_copy, synchronize_by_foreach], ids=lambda f: f.__name__)
def test_synchronize_correct_answers_written_differently_pass(answer, monkeypatch):
    assert check_synchronize(answer)
    monkeypatch.setenv(STRICT_ENV_VAR, "1")
    assert check_synchronize(answer)


# --------------------------------------------------------------------------- exercise 2: check_soft_update


def soft_update_trainable_only(q_network, target_network, tau):
    with torch.no_grad():
        for mine, theirs in zip(target_network.parameters(), q_network.parameters(), strict=True):
            if mine.requires_grad:  # the target is frozen: nothing is blended
                mine.mul_(1 - tau).add_(tau * theirs)


def soft_update_reads_the_scaled_target(q_network, target_network, tau):
    with torch.no_grad():
        for mine, theirs in zip(target_network.parameters(), q_network.parameters(), strict=True):
            mine.mul_(1 - tau)
            mine.add_(tau * (theirs - mine))  # `mine` is already scaled here


def soft_update_scales_after_the_step(q_network, target_network, tau):
    with torch.no_grad():
        for mine, theirs in zip(target_network.parameters(), q_network.parameters(), strict=True):
            mine.add_(tau * (theirs - mine))
            mine.mul_(1 - tau)


def soft_update_assigns_data(q_network, target_network, tau):
    for mine, theirs in zip(target_network.parameters(), q_network.parameters(), strict=True):
        mine.data = (1 - tau) * mine.data + tau * theirs.data  # new storage behind the same Parameter


def soft_update_lerp(q_network, target_network, tau):
    with torch.no_grad():
        for mine, theirs in zip(target_network.parameters(), q_network.parameters(), strict=True):
            mine.lerp_(theirs, tau)


def soft_update_foreach(q_network, target_network, tau):
    with torch.no_grad():
        mine, theirs = list(target_network.parameters()), list(q_network.parameters())
        torch._foreach_mul_(mine, 1 - tau)
        torch._foreach_add_(mine, theirs, alpha=tau)


def test_soft_update_requires_grad_filter_is_named():
    text = named(check_soft_update(soft_update_trainable_only), "filters on requires_grad",
                 absent=("does not update the target network in place", "only rebinds that name"))
    assert "whatever its requires_grad" in text


def test_soft_update_second_term_reading_the_scaled_target_is_named():
    text = named(check_soft_update(soft_update_reads_the_scaled_target),
                 "the second term uses the already-scaled target")
    assert "use the old value before you overwrite it" in text


def test_soft_update_scaling_after_the_step_is_named():
    named(check_soft_update(soft_update_scales_after_the_step), "(1 - tau) is applied after the step",
          absent=("the second term uses the already-scaled target",))


def test_soft_update_assigning_data_is_not_in_place():
    report = check_soft_update(soft_update_assigns_data)
    assert failed(report) == ["changes the target network passed in (in place), keeping its parameter tensors"], \
        str(report)
    assert "new memory behind" in str(report) and "Assigning to `.data`" in str(report)


@pytest.mark.parametrize("answer", [soft_update_lerp, soft_update_foreach], ids=lambda f: f.__name__)
def test_soft_update_correct_answers_written_differently_pass(answer, monkeypatch):
    report = check_soft_update(answer)
    assert report and len(report.results) == 6, str(report)
    monkeypatch.setenv(STRICT_ENV_VAR, "1")
    assert check_soft_update(answer)


# --------------------------------------------------------------------------- what the notebook tells the student


def _cells():
    return json.loads(NOTEBOOK.read_text())["cells"]


def _text(cell) -> str:
    return "".join(cell["source"])


def test_exercise_1_is_not_given_away_before_its_check():
    """Neither the objectives nor the exercise name the method that is the one-line answer."""
    cells = _cells()
    check = next(i for i, c in enumerate(cells) if "check_synchronize(my_synchronize)" in _text(c))
    for cell in cells[:check]:
        text = _text(cell)
        if "### BEGIN SOLUTION" in text:
            continue
        assert "load_state_dict" not in text, text[:300]


def test_exercise_2_instruction_matches_what_the_check_accepts():
    """The check accepts lerp_ (a correct soft update), so the exercise does not forbid it."""
    task = next(_text(c) for c in _cells() if "**Exercise 2" in _text(c))
    assert "lerp" not in task
    assert check_soft_update(soft_update_lerp)


# --------------------------------------------------------------------------- fourth review: two more kinds


def synchronize_then_unfreeze(q_network, target_network, n_updates, sync_every):
    if n_updates % sync_every == 0:
        target_network.load_state_dict(q_network.state_dict())
        target_network.requires_grad_(True)  # "so that it can learn too"


def soft_update_with_swapped_names(q_network, target_network, tau):
    with torch.no_grad():
        for online, target in zip(target_network.parameters(), q_network.parameters()):
            target.mul_(1 - tau).add_(tau * online)


def test_synchronize_that_unfreezes_the_target_is_told_so():
    report = check_synchronize(synchronize_then_unfreeze)
    assert failed(report) == ["a frozen target stays frozen"], str(report)
    assert "switched gradient tracking back on" in str(report) and "torch.no_grad()" not in str(report)


def test_soft_update_with_swapped_names_is_named():
    named(check_soft_update(soft_update_with_swapped_names), "the roles are swapped",
          absent=("does not update the target network in place",))


def test_synchronize_through_the_package_learner_is_not_the_students_code():
    from dqn_helpers import DeepQLearner

    def through_the_learner(q_network, target_network, n_updates, sync_every):
        if n_updates % sync_every == 0:
            learner = DeepQLearner(4, 2, hidden_sizes=(8,))
            learner.q_network, learner.target_network = q_network, target_network
            learner.synchronize()

    report = check_synchronize(through_the_learner)
    assert not report and "DeepQLearner.synchronize" in str(report), str(report)
