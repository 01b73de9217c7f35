"""Check of the DQN training loop: act, step, remember, sample, update, synchronize, decay epsilon.

Built step by step in ``notebooks/09_write_your_own_dqn.ipynb``. The student's loop
runs on instrumented objects (an env, a learner and a buffer that record every call),
so each property can be tested on its own; then one short real training run on
CartPole-v1 must learn.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from dqn_helpers.checks.formatting import fmt
from dqn_helpers.checks.framework import CheckReport, Fail, Mistake, Test, not_callable_report, run_tests
from dqn_helpers.checks.limits import time_limit
from dqn_helpers.schedules import linear_epsilon

HANG_HINT = ("Your loop did not finish: each pass must advance the count of env steps by env.num_envs, and the loop "
             "must stop once total_steps are done.")
SIGNATURE = ("fn(env, learner, buffer, update, total_steps, batch_size, learning_starts, "
             "target_update_every, seed)")


def _at(passes, done, values) -> str:
    return ", ".join(f"{values[k]:.3g} after {done[k]} steps" for k in passes)


# What a loop may give learner.decay_epsilon instead of the share of env steps done, as a function of the
# vector steps k and the updates u made so far (with n envs and T total steps), and what that does.
_PROGRESS_MISTAKES = {
    "env steps": (lambda k, u, n, t, f: k * n,
                  "the number of env steps done, where it expects the share of training done (a number from 0 to "
                  "1): from the second step on that count is above exploration_fraction, so epsilon fell to its end "
                  "value at once. Divide the count by total_steps."),
    "passes": (lambda k, u, n, t, f: k,
               "the number of passes of the loop, where it expects the share of training done (a number from 0 to "
               "1): from the second pass on epsilon sits at its end value. Divide the env steps done by "
               "total_steps."),
    "updates": (lambda k, u, n, t, f: u / t,
                "a share of updates, not of env steps: epsilon stays at its start value until learning_starts, "
                "then falls about num_envs times too slowly. The schedule runs on env steps done / total_steps."),
    "raw updates": (lambda k, u, n, t, f: u,
                    "the number of updates made, where it expects the share of env steps done (a number from 0 to "
                    "1): epsilon stays at its start value until learning_starts, then drops to its end value."),
    "passes share": (lambda k, u, n, t, f: k / t,
                     "the passes of the loop divided by total_steps: each pass is env.num_envs env steps, so "
                     "epsilon falls num_envs times too slowly. Count env steps, not passes."),
    "fraction twice": (lambda k, u, n, t, f: k * n / (f * t),
                       "the env steps done divided by exploration_fraction * total_steps: decay_epsilon already "
                       "spreads the decay over the first exploration_fraction of training, so exploration_fraction "
                       "was applied twice and epsilon reached its end value that much too early. Give it the share "
                       "of all of training done: env steps done / total_steps."),
}


def _schedule_hint(rec) -> str:
    """Name what the loop gave learner.decay_epsilon, or show it."""
    if not rec.decays:
        return "Before acting, every pass, give learner.decay_epsilon the share of training done so far."
    n, t, f = rec.num_envs, rec.settings["total_steps"], rec.learner.exploration_fraction
    for count, hint in _PROGRESS_MISTAKES.values():
        # the count may be taken before or after this pass's step and update
        if all(min(count(k - 1, u - 1, n, t, f), count(k + 1, u + 1, n, t, f)) - 1e-9 <= p
               <= max(count(k - 1, u - 1, n, t, f), count(k + 1, u + 1, n, t, f)) + 1e-9 for k, u, p in rec.decays):
            return "Your loop gave learner.decay_epsilon " + hint
    given = ", ".join(f"{p:.3g}" for _, _, p in rec.decays[:4])
    return (f"Your loop gave learner.decay_epsilon {given}, ... on its first calls. It expects the share of training "
            "done, from 0 before the first step to nearly 1 at the last: env steps done divided by total_steps.")


class _Recorder:
    """Runs the student's loop once on recording wrappers and keeps what happened."""

    def __init__(self, fn, env, total_steps=480, batch_size=16, learning_starts=80, target_update_every=7, seed=3):
        from dqn_helpers.learner import DeepQLearner
        from dqn_helpers.replay_buffer import ReplayBuffer

        self.settings = dict(total_steps=total_steps, batch_size=batch_size, learning_starts=learning_starts,
                             target_update_every=target_update_every, seed=seed)
        self.num_envs = env.num_envs
        self.resets, self.steps, self.acted, self.actions, self.epsilons = [], [], [], [], []
        self.remembered, self.batch_sizes, self.syncs, self.direct_updates = [], [], [], 0
        self.update_steps = []  # vector steps done when each update(learner, batch) was called
        self.decays = []  # (vector steps done, updates done, progress) of each learner.decay_epsilon call
        recorder = self

        class Env:
            num_envs = env.num_envs
            single_observation_space = env.single_observation_space
            single_action_space = env.single_action_space

            def reset(self, seed=None):
                recorder.resets.append(seed)
                return env.reset(seed=seed)

            def step(self, actions):
                out = env.step(actions)
                recorder.steps.append(out)
                return out

        class Buffer(ReplayBuffer):
            def remember(self, obs, actions, rewards, next_obs, terminated):
                recorder.remembered.append(tuple(np.array(x, copy=True) for x in (obs, actions, rewards, next_obs,
                                                                                    terminated)))
                super().remember(obs, actions, rewards, next_obs, terminated)

        # epsilon decays over half the run, so a schedule fed the wrong count shows mid-run, not only at the ends
        learner = DeepQLearner(4, 2, hidden_sizes=(16,), exploration_fraction=0.5, seed=seed)
        act, sync, learner_update, decay = learner.act, learner.synchronize, learner.update, learner.decay_epsilon
        inside_update = []

        def spy_act(obs):
            recorder.acted.append(np.array(obs, copy=True))
            recorder.epsilons.append(learner.epsilon)
            out = act(obs)
            recorder.actions.append(np.array(out, copy=True))
            return out

        def spy_sync():
            recorder.syncs.append(len(recorder.batch_sizes))
            sync()

        def spy_decay(progress):
            recorder.decays.append((len(recorder.steps), len(recorder.batch_sizes), float(progress)))
            return decay(progress)

        def spy_learner_update(batch):
            recorder.direct_updates += not inside_update
            return learner_update(batch)

        def update(learner_, batch):
            recorder.batch_sizes.append(len(batch.actions))
            recorder.update_steps.append(len(recorder.steps))
            inside_update.append(True)
            try:
                return learner_.update(batch)
            finally:
                inside_update.pop()

        learner.act, learner.synchronize, learner.update = spy_act, spy_sync, spy_learner_update
        learner.decay_epsilon = spy_decay
        self.learner = learner
        fn(Env(), learner, Buffer(10_000, (4,), seed=seed), update, **self.settings)
        env.close()

    def stacked(self, field: int) -> np.ndarray:
        return np.concatenate([r[field].reshape(len(r[field]), -1) for r in self.remembered]) if self.remembered else \
            np.zeros((0, 1))


def check_training_loop(fn, learning_steps: int = 10_000, min_return: float = 100.0) -> CheckReport:
    """Check ``fn(env, learner, buffer, update, total_steps, ...)``, the DQN loop (notebook 09_write_your_own_dqn).

    Properties, on recording wrappers: the env is reset once with the seed and stepped
    ``total_steps / num_envs`` times; actions come from ``learner.act`` (a loop that never calls
    it stops the check there: the later properties follow its calls), on the latest observations;
    epsilon follows the schedule of the share of env steps done, mid-run too (a count of env
    steps, of passes or of updates given instead, or exploration_fraction applied twice, is
    named); each real transition is remembered once, with the true final observation and
    ``terminated`` (not ``done``), steps marked ``learnable=False`` skipped; one update per vector step from
    ``learning_starts`` on, on batches of ``batch_size``; a synchronization every
    ``target_update_every`` updates. Then a real run of ``learning_steps`` env steps on
    CartPole-v1 must reach a greedy mean return of ``min_return`` (random play: about 22).
    """
    from dqn_helpers.vector_env import VectorizedEnvWrapper, make_vector_env

    name = "check_training_loop"
    if not callable(fn):
        return not_callable_report(name, fn, "a function " + SIGNATURE)
    runs: dict[str, _Recorder] = {}

    def copies() -> _Recorder:  # deep copies: final_obs differs from next_obs; time limit 15 gives truncations
        if "copies" not in runs:
            runs["copies"] = _Recorder(fn, VectorizedEnvWrapper(gym.make("CartPole-v1", max_episode_steps=15), 4))
        return runs["copies"]

    def native() -> _Recorder:  # gymnasium's CartPole: one non-learnable step after each episode
        if "native" not in runs:
            runs["native"] = _Recorder(fn, make_vector_env("CartPole-v1", 4))
        return runs["native"]

    def runs_and_steps():
        rec = copies()
        want = -(-rec.settings["total_steps"] // rec.num_envs)
        if rec.resets != [rec.settings["seed"]] or len(rec.steps) != want:
            expected = f"one env.reset(seed={rec.settings['seed']}) and {want} env.step calls (total_steps=480, 4 envs)"
            raise Fail(expected,
                       f"resets with seeds {rec.resets[:5]}, {len(rec.steps)} steps",
                       "Reset once before the loop, with the seed; each pass of the loop steps all envs once, so "
                       "it runs total_steps / env.num_envs times. The vector env resets ended episodes itself.")

    def acts():
        rec = copies()
        if len(rec.acted) != len(rec.steps):
            raise Fail("one learner.act(obs) per env step", f"{len(rec.acted)} calls for {len(rec.steps)} steps",
                       "Let learner.act choose every step's actions: it explores with the current epsilon"
                       + (" (learner.greedy_actions never explores)" if not rec.acted else "") + ". The checks "
                       "below (epsilon, what is remembered, updates) follow learner.act's calls, so they wait until "
                       "this one passes.")

    def acts_on_latest():
        rec = copies()
        for k in range(1, len(rec.acted)):
            previous = rec.steps[k - 1]
            if not np.allclose(rec.acted[k], previous.next_obs):
                hint = "After each step, continue from the step's next_obs."
                if np.allclose(rec.acted[k], previous.final_obs):
                    hint = ("You continued from step.final_obs: where an episode ended that is its last state; the "
                            "env already started a new episode, whose first observation is step.next_obs.")
                raise Fail(f"act() at step {k} called with the previous step's next_obs", "other observations", hint)

    def decays_epsilon():
        rec = copies()
        eps, learner = np.array(rec.epsilons), rec.learner
        start, end = learner.epsilon_start, learner.epsilon_end
        n, total = rec.num_envs, rec.settings["total_steps"]
        done = np.arange(len(eps)) * n  # env steps done before each act()

        def schedule(steps):
            return np.array([linear_epsilon(p, start, end, learner.exploration_fraction) for p in steps / total])

        # exactly train()'s schedule: the share of env steps done *before* this pass's step (notebook 09 compares
        # the loop's weights with train()'s bit for bit, and a schedule one pass off flips a few random actions)
        if len(eps) and np.allclose(eps, schedule(done), atol=1e-9):
            return
        shown = sorted({0, len(eps) // 8, len(eps) // 4, len(eps) // 2, len(eps) - 1}) if len(eps) else []
        for shift, word in ((n, "ahead of"), (-n, "behind")):
            if len(eps) > 2 and np.allclose(eps[1:-1], schedule(done + shift)[1:-1], atol=1e-9):
                raise Fail(f"epsilon at act() from env steps done before the step: {_at(shown, done, schedule(done))}",
                           f"{_at(shown, done, eps)}: one vector step {word} the schedule",
                           "Your loop gives learner.decay_epsilon the share of training one pass "
                           + ("later" if shift > 0 else "earlier") + " than train() does. Before acting, give it "
                           "the env steps done so far, before this pass's step, divided by total_steps (0 at the "
                           "first act). A schedule one pass off changes a few random actions, and with them the "
                           "whole run: notebook 09 compares your loop with train() bit for bit.")
        raise Fail(f"epsilon falling from {start} to {end} over the first {learner.exploration_fraction:g} of the "
                   f"{total} env steps, then staying there: {_at(shown, done, schedule(done))}",
                   f"epsilon at act(): {_at(shown, done, eps)}", _schedule_hint(rec))

    def true_final_obs():
        rec = copies()
        want = np.concatenate([s.final_obs[s.learnable] for s in rec.steps])
        got = rec.stacked(3)
        if got.shape != want.shape or not np.allclose(got, want):
            hint = "Remember step.final_obs as the next state: the true last state of an episode that just ended."
            reset_obs = np.concatenate([s.next_obs[s.learnable] for s in rec.steps])
            only_terminal = np.concatenate([np.where(s.terminated[:, None], s.final_obs, s.next_obs)[s.learnable]
                                            for s in rec.steps])
            if got.shape == reset_obs.shape and np.allclose(got, reset_obs):
                hint = ("You remembered step.next_obs: where an episode ended, that is the first observation of the "
                        "next episode, not where the transition led. Remember step.final_obs.")
            elif got.shape == only_terminal.shape and np.allclose(got, only_terminal):
                hint = ("You took the true last state only where the episode terminated; where it was truncated "
                        "(the time limit) you stored the next episode's first observation. A truncated transition "
                        "also led to a real state, the one its value is bootstrapped from: step.final_obs holds it "
                        "in every row.")
            raise Fail("the next states remembered equal to step.final_obs of every learnable step",
                       f"{len(got)} rows, not all equal to final_obs ({len(want)} rows)", hint)

    def remembers_obs_and_actions():
        rec = copies()
        acts_on_latest()
        obs, actions = rec.stacked(0), rec.stacked(1).reshape(-1)
        if not rec.acted:  # nothing to compare with (the act test above says why)
            raise Fail("observations passed to learner.act", "no call of learner.act")
        want_obs = np.concatenate(rec.acted)
        want_actions = np.concatenate(rec.actions)
        if obs.shape != want_obs.shape or not np.allclose(obs, want_obs) or not np.array_equal(actions, want_actions):
            raise Fail("each step's obs (as passed to act) and the actions act returned, one row per env",
                       f"{len(obs)} rows that differ", "Remember the observations you acted on and the actions "
                       "learner.act returned for them, before moving on to the next observations.")

    def remembers_terminated():
        rec = copies()
        want = np.concatenate([s.terminated[s.learnable] for s in rec.steps]).astype(float)
        got = rec.stacked(4).reshape(-1).astype(float)
        if got.shape != want.shape or not np.array_equal(got, want):
            done = np.concatenate([s.done[s.learnable] for s in rec.steps]).astype(float)
            hint = "Remember step.terminated."
            if got.shape == done.shape and np.array_equal(got, done):
                hint = ("You remembered terminated or truncated. A time limit (truncated) is not a death: the "
                        "learner must bootstrap from it. Remember step.terminated only.")
            raise Fail("terminated flags equal to step.terminated (episodes here are cut at 15 steps: truncated)",
                       f"{int(got.sum())} terminal rows, {int(want.sum())} expected", hint)

    def skips_non_transitions():
        rec = native()
        want = sum(int(s.learnable.sum()) for s in rec.steps)
        got = len(rec.stacked(0))
        if got != want:
            raise Fail(f"{want} remembered transitions (steps with learnable=False skipped)", f"{got}",
                       "Remember only the real transitions, the rows that step.learnable marks (gymnasium's CartPole "
                       "spends one step on each reset, which is no transition).")

    def updates():
        for rec in (copies(), native()):
            updates_on(rec)

    def updates_on(rec):
        s = rec.settings
        n, starts = rec.num_envs, s["learning_starts"]
        # after vector step k (k * n env steps collected, its transitions stored): an update once k * n >= starts
        want_at = [k for k in range(1, len(rec.steps) + 1) if k * n >= starts]
        want, got = len(want_at), len(rec.batch_sizes)
        bad_sizes = sorted(set(rec.batch_sizes) - {s["batch_size"]})
        stored = np.cumsum([len(r[1]) for r in rec.remembered])  # transitions in the buffer after each remember()
        by_buffer = [k for k in range(1, len(rec.steps) + 1) if len(stored) >= k and stored[k - 1] >= starts]
        by_batch = [k for k in range(1, len(rec.steps) + 1) if len(stored) >= k and stored[k - 1] >= s["batch_size"]]
        if rec.update_steps and rec.update_steps != want_at and rec.update_steps == by_batch:
            raise Fail(f"the first update after vector step {want_at[0]} ({want_at[0] * n} env steps played, "
                       f"learning_starts={starts})",
                       f"the first after vector step {by_batch[0]}, as soon as the buffer held a batch "
                       f"({s['batch_size']} transitions)",
                       "Your loop starts updating once a batch can be sampled. learning_starts asks for more: a "
                       "buffer of learning_starts env steps of (mostly random) play before the first update, so "
                       "that the first batches are not drawn from a handful of transitions over and over.")
        if rec.update_steps and rec.update_steps != want_at and rec.update_steps == by_buffer:
            raise Fail(f"the first update after vector step {want_at[0]} ({want_at[0] * n} env steps played, "
                       f"learning_starts={starts}), on gymnasium's CartPole with its reset steps",
                       f"the first after vector step {by_buffer[0]}, when the buffer held {starts} transitions",
                       "You compared learning_starts with len(buffer). It counts env steps played, as train() does, "
                       "and the reset steps of gymnasium's CartPole are env steps that the buffer never receives, "
                       "so the two counts drift apart with every finished episode.")
        late_by = rec.update_steps[0] - want_at[0] if rec.update_steps and want_at else 0
        if late_by > 1 and rec.update_steps == [k for k in want_at if k >= rec.update_steps[0]] and not bad_sizes:
            raise Fail(f"the first update after vector step {want_at[0]} ({want_at[0] * n} env steps collected, "
                       f"learning_starts={starts}), then one per vector step",
                       f"the first after vector step {rec.update_steps[0]}: {late_by} vector steps late, then one "
                       "per vector step",
                       "Compare learning_starts with the env steps collected so far, counting this pass's step (its "
                       "transitions are already in the buffer); a strict > or a count taken before the step starts "
                       "late.")
        if got == want and not bad_sizes and rec.update_steps != want_at and rec.update_steps:
            first, expected_first = rec.update_steps[0], want_at[0]
            when = "late" if first > expected_first else "early" if first < expected_first else "irregularly"
            raise Fail(f"the first update after vector step {expected_first} ({expected_first * n} env steps "
                       f"collected, learning_starts={starts}), then one per vector step",
                       f"the first after vector step {first}, "
                       + (f"{abs(first - expected_first)} vector step(s) {when}" if when != "irregularly" else
                          f"then after vector steps {rec.update_steps[1:4]} ... (not one per vector step)"),
                       "Compare learning_starts with the env steps collected so far, counting this pass's step (its "
                       "transitions are already in the buffer), and do it after the step, before the update.")
        if got != want or bad_sizes:
            hint = ("From learning_starts env steps on, every pass samples a batch of batch_size from the buffer and "
                    "calls update(learner, batch) once.")
            if want and got % want == 0 and got // want == n and n > 1:
                hint = (f"{got} calls is num_envs = {n} times {want}: your loop updates once per env of the vector "
                        "step. One pass steps all num_envs envs at once and makes one update.")
            if got in (want - 1, want + 1) and not bad_sizes:
                hint = (f"One update {'too few' if got < want else 'too many'}: your loop starts updating one vector "
                        f"step {'late' if got < want else 'early'} (the first update should come right after the step "
                        f"that brings the env steps collected to learning_starts = {starts}). Count this pass's step "
                        "before comparing.")
            if rec.direct_updates:
                hint = (f"Your loop called learner.update(batch) itself ({rec.direct_updates} times). Call the update "
                        "function the loop receives, update(learner, batch): the check passes the package's, "
                        "notebook 09 passes yours.")
            raise Fail(f"{want} calls of update(learner, batch) (one per vector step once {s['learning_starts']} "
                       f"env steps are collected), batches of {s['batch_size']}",
                       f"{got} calls, batch sizes {sorted(set(rec.batch_sizes))}", hint)

    def synchronizes():
        rec = copies()
        k = rec.settings["target_update_every"]
        want = list(range(k, len(rec.batch_sizes) + 1, k))
        # a synchronization before the first update copies the weights the target already holds: harmless
        if [u for u in rec.syncs if u != 0] != want:
            hint = ("Count the updates and synchronize after every target_update_every-th one (here the 7th, "
                    "14th, ...), counting the update just made.")
            # the vector step of each synchronization: was the period counted in env steps or passes instead?
            at_steps = [rec.update_steps[u - 1] for u in rec.syncs if 0 < u <= len(rec.update_steps)]
            n = rec.num_envs
            if at_steps and (all(v * n % k == 0 for v in at_steps) or all((v - 1) * n % k == 0 for v in at_steps)):
                hint = ("Your synchronizations fall where the env steps count reaches a multiple of "
                        "target_update_every: the period is counted in updates, not env steps. " + hint)
            elif at_steps and (all(v % k == 0 for v in at_steps) or all((v - 1) % k == 0 for v in at_steps)):
                hint = ("Your synchronizations fall on every target_update_every-th pass of the loop: the period is "
                        "counted in updates, which start only at learning_starts. " + hint)
            raise Fail(f"a synchronization after update number {want}", f"after update number {rec.syncs}", hint)

    def learns():
        from dqn_helpers.evaluation import evaluate
        from dqn_helpers.learner import DeepQLearner
        from dqn_helpers.replay_buffer import ReplayBuffer

        learner = DeepQLearner(4, 2, hidden_sizes=(64, 64), exploration_fraction=0.3, seed=0)
        fn(make_vector_env("CartPole-v1", 8), learner, ReplayBuffer(50_000, (4,), seed=0),
           lambda learner_, batch: learner_.update(batch), total_steps=learning_steps, batch_size=64,
           learning_starts=1_000, target_update_every=10, seed=0)
        returns = evaluate(learner, "CartPole-v1", 10, seed=10_000)
        if returns.mean() < min_return:
            raise Fail(f"a greedy mean return of at least {min_return:g} on 10 fresh CartPole-v1 episodes after "
                       f"{learning_steps:,} env steps (random play: about 22)", f"{returns.mean():.1f}: {fmt(returns)}",
                       "The loop runs but the agent did not learn. If the properties above pass, look at the update "
                       "(check_dqn_update) and at the probes (check_probes).")

    tests = [
        Test("resets once with the seed and steps total_steps / num_envs times", runs_and_steps, required=True),
        Test("acts with learner.act, once per env step", acts, required=True),
        Test("decays epsilon from its start to its end value", decays_epsilon),
        Test("acts on the latest observations, and remembers them with the actions taken", remembers_obs_and_actions),
        Test("remembers the true final observation (not the reset one)", true_final_obs),
        Test("remembers terminated, not terminated or truncated", remembers_terminated),
        Test("skips steps that are no transitions (learnable=False)", skips_non_transitions),
        Test("one update per vector step from learning_starts on, batches of batch_size", updates),
        Test("synchronizes the target network every target_update_every updates", synchronizes),
        Test(f"learns: greedy return >= {min_return:g} on CartPole-v1 after {learning_steps:,} env steps", learns,
             time_limit=time_limit(max(1.0, learning_steps / 2_500))),
    ]
    def drops_truncated() -> bool:
        """The loop remembered exactly the rows that were not truncated: the time limit's transitions are gone."""
        rec = copies()
        kept = sum(int((s.learnable & ~np.asarray(s.truncated)).sum()) for s in rec.steps)
        truncated = sum(int(np.asarray(s.truncated).sum()) for s in rec.steps)
        return truncated > 0 and len(rec.stacked(0)) == kept

    mistakes = [Mistake(
        "you dropped the transitions that the time limit cut (truncated): they are real transitions.", drops_truncated,
        "A truncated step still moved the agent from a state to a real next state, step.final_obs, with its reward; "
        "only the episode's bookkeeping stopped there. Keep it, with terminated = 0, so that its value is "
        "bootstrapped. The rows to leave out are those step.learnable marks as no transition.")]
    with torch.random.fork_rng():
        return run_tests(name, tests, SIGNATURE, mistakes, hang_hint=HANG_HINT)
