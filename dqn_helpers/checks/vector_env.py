"""Check of a vectorized env: seeds per copy, auto-reset, the true final observation, the two flags.

Built step by step in ``notebooks/05_vectorized_envs.ipynb``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dqn_helpers.checks.delegation import OWN_CODE, inherited, own_code_test
from dqn_helpers.checks.formatting import array, attr, fmt
from dqn_helpers.checks.framework import CheckReport, Fail, Mistake, Test, not_callable_report, run_tests

DICT_HINT = ("step() returned a dict, but its callers read the fields as attributes (`step.next_obs`, "
             "`step.rewards`), which a dict does not have: the notebook's later cells would stop with an "
             "AttributeError. Return an object whose fields are attributes (a dataclass, a namedtuple, a "
             "SimpleNamespace, like dqn_helpers' VectorStep).")


def per_copy_hint(field_name: str, shape: tuple, num_envs: int) -> str:
    """The hint for a field of step()'s result whose shape is off."""
    if field_name.endswith("obs"):
        return f"One observation per copy: a stack of {num_envs} rows of the env's observation shape."
    what = "reward" if field_name == "rewards" else f"`{field_name}` flag"
    extra = (f" Yours has an extra dimension of size 1 (shape {shape}): one number per copy, but each in a row of "
             "its own." if shape == (num_envs, 1) else "")
    return (f"One {what} per copy, as a flat array of shape ({num_envs},): the learner stores them next to each "
            f"copy's action and multiplies them element by element with the other per-copy arrays.{extra}")


def check_vectorized_env(cls) -> CheckReport:
    """Check ``cls(env: gym.Env, num_envs)`` (notebook 05_vectorized_envs).

    Expected interface: ``.reset(seed) -> (num_envs, obs_dim)`` array and
    ``.step(actions)`` returning an object with ``next_obs``, ``final_obs``,
    ``rewards``, ``terminated``, ``truncated`` (like :class:`dqn_helpers.VectorizedEnvWrapper`).
    Uses CartPole-v1 and keeps pushing right so episodes end within ~10 steps.
    Every transition is replayed on a reference CartPole started from the same
    observation with the same action, so any seeding convention is accepted.
    Tests: reset shapes; different copies get different seeds; the same seed
    reproduces the same start; step output shapes; ``final_obs`` is the true last
    observation; auto-reset after an episode ends; ``terminated`` flags CartPole
    failures; time-limit truncations (``max_episode_steps=5``) are ``truncated``, not
    ``terminated``; copies stepped with different actions each follow their own;
    a truncated copy is reset too; the copies keep the env's time limit; the time limit starts
    again with every episode (15 steps with ``max_episode_steps=5``: the episodes after a copy's
    first cut last 5 steps too); the class's own code (not :class:`dqn_helpers.VectorizedEnvWrapper`'s);
    new arrays at every step.
    Recognises ``final_obs`` stored without a copy of ``next_obs``; ``final_obs`` and ``next_obs``
    swapped where an episode ended (the reset observation as ``final_obs``, the last one as
    ``next_obs``); ``final_obs`` holding the observation the action was taken in; a time limit
    whose counter is never reset (an ended copy reset with ``env.unwrapped.reset()``); a lazy reset (an
    ended copy reset at the start of the next ``step()`` call, not in the step where it ended);
    ``final_obs`` left at zeros where no episode ended (gymnasium's ``info["final_obs"]`` style); the
    reset observation stored as ``final_obs`` too; one env object shared by every copy (``[env] * n``).
    """
    import gymnasium as gym

    from dqn_helpers.vector_env import GymnasiumVectorEnv, make_vector_env
    from dqn_helpers.vector_env import VectorizedEnvWrapper as Wrapper

    name = "check_vectorized_env"
    signature = "cls(env, num_envs) with .reset(seed) -> (num_envs, obs_dim) and .step(actions) -> VectorStep"
    if not callable(cls):
        return not_callable_report(name, cls, "a class cls(env, num_envs)")

    n_envs = 3
    reference = gym.make("CartPole-v1").unwrapped
    methods = ("__init__", "reset", "step")
    references = {f"VectorizedEnvWrapper.{m}": getattr(Wrapper, m) for m in methods} | {
        f"GymnasiumVectorEnv.{m}": getattr(GymnasiumVectorEnv, m) for m in methods} | {
        "dqn_helpers.make_vector_env": make_vector_env, "dqn_helpers.VectorizedEnvWrapper": Wrapper}

    def true_step(obs, action):
        reference.state = np.asarray(obs, dtype=np.float64).copy()
        reference.steps_beyond_terminated = None
        next_obs, reward, terminated, _, _ = reference.step(int(action))
        return np.asarray(next_obs, dtype=np.float32), float(reward), bool(terminated)

    def make(num_envs=n_envs, **kwargs):
        return cls(gym.make("CartPole-v1", **kwargs), num_envs)

    def reset(env, seed, num_envs=n_envs) -> np.ndarray:
        out = env.reset(seed=seed)
        if isinstance(out, tuple):
            raise Fail(
                f"an array of shape ({num_envs}, 4)",
                "a tuple",
                "Return only the observations (drop the info dicts gymnasium's reset gives you).",
            )
        obs = array(out, "reset(seed)")
        if obs.shape != (num_envs, 4):
            raise Fail(f"reset(seed) -> array of shape ({num_envs}, 4)", f"shape {obs.shape}")
        return obs

    def step(env, actions, num_envs=n_envs, raw=None) -> dict[str, np.ndarray]:
        out = env.step(np.asarray(actions, dtype=np.int64))
        if isinstance(out, dict):  # attr() would read its keys; the notebook reads step.next_obs
            raise Fail("an object with the attributes next_obs, final_obs, rewards, terminated, truncated",
                       f"a dict with the keys {list(out)[:6]}", DICT_HINT)
        fields = {}
        for field_name in ("next_obs", "final_obs", "rewards", "terminated", "truncated"):
            fields[field_name] = array(attr(out, field_name, "step()'s result"), field_name)
            shape = (num_envs, 4) if field_name.endswith("obs") else (num_envs,)
            if fields[field_name].shape != shape:
                raise Fail(f"`{field_name}` of shape {shape}", f"shape {fields[field_name].shape}",
                           per_copy_hint(field_name, fields[field_name].shape, num_envs))
        if raw is not None:
            raw.update(fields)
        if np.shares_memory(fields["final_obs"], fields["next_obs"]):
            run["aliased"] = True
        fields = {k: np.array(v, copy=True) for k, v in fields.items()}  # what this step returned, kept as it was
        for flag in ("terminated", "truncated"):
            fields[flag] = fields[flag].astype(bool)
        return fields

    run: dict[str, list] = {}

    def rollout():
        """Push right for 40 steps; record (prev_obs, step fields) once, share between tests."""
        if "steps" not in run:
            env = make()
            prev = reset(env, 0)
            steps = []
            for _ in range(40):
                fields = step(env, np.ones(n_envs, dtype=np.int64))
                steps.append((prev, fields))
                prev = fields["next_obs"]
            run["steps"] = steps
        return run["steps"]

    def reset_shape():
        reset(make(), 0)

    def different_seeds():
        obs = reset(make(), 0)
        same = [(i, j) for i in range(n_envs) for j in range(i + 1, n_envs) if np.allclose(obs[i], obs[j])]
        if same:
            raise Fail(
                "a different start for every copy after reset(seed=0)",
                f"copies {same} start identically: {fmt(obs)}",
                "Give copy i its own seed, e.g. env.reset(seed=seed + i), and make real copies "
                "(copy.deepcopy(env)) rather than the same env object several times.",
            )

    def reproducible():
        a, b = reset(make(), 7), reset(make(), 7)
        env = make()
        reset(env, 3)
        c = reset(env, 7)
        if not (np.allclose(a, b) and np.allclose(a, c)):
            raise Fail(
                "the same observations whenever reset(seed=7) is called",
                f"{fmt(a)} vs {fmt(b)} vs {fmt(c)}",
                "Pass the seed on to every copy's reset.",
            )

    def reset_and_step():
        env = make()
        reset(env, 0)
        step(env, np.ones(n_envs, dtype=np.int64))

    def step_shapes():
        env = make()
        reset(env, 0)
        first, second = {}, {}
        step(env, np.zeros(n_envs, dtype=np.int64), raw=first)
        step(env, np.zeros(n_envs, dtype=np.int64), raw=second)
        reused = [k for k in ("next_obs", "final_obs") if np.shares_memory(first[k], second[k])]
        if reused:
            raise Fail("new arrays at every step", f"step() returned the same `{reused[0]}` array at two steps, "
                       "overwritten in place", "The caller keeps the observations of the last step (to remember "
                       "the transition) while it steps again: give each step's results their own arrays.")

    def mixed_rollout():
        """12 steps in which the copies get different actions ((t + i) % 2 for copy i)."""
        if "mixed" not in run:
            env = make()
            prev = reset(env, 1)
            steps = []
            for t in range(12):
                actions = (t + np.arange(n_envs)) % 2
                fields = step(env, actions)
                steps.append((prev, actions, fields))
                prev = fields["next_obs"]
            run["mixed"] = steps
        return run["mixed"]

    def per_copy_actions():
        for t, (prev, actions, fields) in enumerate(mixed_rollout()):
            for i in range(n_envs):
                want, _, _ = true_step(prev[i], actions[i])
                if np.allclose(fields["final_obs"][i], want, atol=1e-4):
                    continue
                hint = "Step copy i with its own action, actions[i]."
                other = [int(a) for a in set(actions.tolist()) if a != actions[i]]
                if other and np.allclose(fields["final_obs"][i], true_step(prev[i], other[0])[0], atol=1e-4):
                    hint = (f"Copy {i} moved as if it had been given action {other[0]}, not its own action "
                            f"{int(actions[i])}: every copy must be stepped with its own entry of the action "
                            "array (pair the copies with the actions), not with one action for all.")
                raise Fail(
                    f"final_obs[{i}] = {fmt(want)} at step {t}, with actions {actions.tolist()} (copy {i} "
                    f"pushed {'right' if actions[i] else 'left'})",
                    fmt(fields["final_obs"][i]),
                    hint,
                )

    def final_obs_true():
        for t, (prev, fields) in enumerate(rollout()):
            for i in range(n_envs):
                want, _, _ = true_step(prev[i], 1)
                if not np.allclose(fields["final_obs"][i], want, atol=1e-4):
                    done = bool(fields["terminated"][i] or fields["truncated"][i])
                    hint = (
                        "final_obs is the observation env.step() returned, before any reset. Each copy must be "
                        "its own env (copy.deepcopy(env)), not the same object used several times."
                    )
                    if done and run.get("aliased") and np.abs(fields["final_obs"][i]).max() <= 0.05:
                        hint = (
                            "final_obs and next_obs are one array in memory, so writing the reset observation into "
                            "next_obs overwrote final_obs too. Give final_obs its own memory before the resets."
                        )
                    elif (done and np.abs(fields["final_obs"][i]).max() <= 0.05
                          and np.allclose(fields["next_obs"][i], want, atol=1e-4)):
                        hint = (
                            "final_obs and next_obs are swapped at the end of an episode: final_obs holds the new "
                            "episode's first observation and next_obs the last one of the old episode."
                        )
                    elif done and np.allclose(fields["final_obs"][i], fields["next_obs"][i]):
                        hint = (
                            "At the end of an episode you stored the reset observation as final_obs. Keep the "
                            "observation returned by env.step() as final_obs, then reset for next_obs."
                        )
                    raise Fail(
                        f"final_obs[{i}] = {fmt(want)} at step {t} (CartPole stepped from the previous "
                        "observation with the same action)",
                        fmt(fields["final_obs"][i]),
                        hint,
                    )

        per_copy_actions()

    def auto_reset():
        episodes = 0
        for t, (_, fields) in enumerate(rollout()):
            for i in np.flatnonzero(fields["terminated"] | fields["truncated"]):
                episodes += 1
                nxt, fin = fields["next_obs"][i], fields["final_obs"][i]
                if np.allclose(nxt, fin) or np.abs(nxt).max() > 0.05:
                    raise Fail(
                        f"next_obs[{i}] at step {t}, where an episode ended, to be the first observation of a "
                        "new episode (CartPole starts within ±0.05)",
                        f"{fmt(nxt)} (final_obs {fmt(fin)})",
                        "When a copy's episode ends, reset that copy and return its new observation as next_obs.",
                    )
            for i in np.flatnonzero(~(fields["terminated"] | fields["truncated"])):
                if not np.allclose(fields["next_obs"][i], fields["final_obs"][i]):
                    raise Fail(
                        f"next_obs[{i}] == final_obs[{i}] at step {t} (episode still running)",
                        f"{fmt(fields['next_obs'][i])} vs {fmt(fields['final_obs'][i])}",
                        "Only a copy whose episode ended is reset.",
                    )
        if episodes < n_envs:
            raise Fail(
                f"at least {n_envs} episodes ending in 40 steps of always pushing right",
                f"{episodes}",
                "Report the terminated flag returned by each copy's env.step().",
            )
        # A time-limit truncation ends the episode too: the copy must be reset after it.
        env = make(2, max_episode_steps=5)
        reset(env, 0, 2)
        for t in range(5):
            fields = step(env, np.full(2, t % 2), 2)
        for i in np.flatnonzero(fields["truncated"] & ~fields["terminated"]):
            nxt, fin = fields["next_obs"][i], fields["final_obs"][i]
            if np.allclose(nxt, fin) or np.abs(nxt).max() > 0.05:
                raise Fail(
                    f"next_obs[{i}] after the time limit (max_episode_steps=5) cut the episode at step 5 to be "
                    "the first observation of a new episode",
                    f"{fmt(nxt)} (final_obs {fmt(fin)})",
                    "A truncated episode is over as well: the time limit ended it, and the copy's next step would "
                    "be past its limit. Reset a copy whose episode was truncated, not only one that terminated.",
                )

    def fresh_starts():
        steps = rollout()
        for i in range(n_envs):
            starts = [steps[0][0][i]] + [f["next_obs"][i] for _, f in steps if f["terminated"][i] or f["truncated"][i]]
            repeats = [k for k in range(1, len(starts)) if any(np.allclose(starts[k], s) for s in starts[:k])]
            if repeats:
                raise Fail(
                    f"a new start state for each episode of copy {i} (auto-resets continue the copy's random "
                    "generator)",
                    f"episode {repeats[0]} of copy {i} starts exactly like an earlier one: {fmt(starts[repeats[0]])}",
                    "Seed each copy once, in reset(seed); when an episode ends, call env.reset() without a seed. "
                    "Seeding again at every auto-reset replays the same start, so the agent sees one start state "
                    "per copy.",
                )

    def aliased_final_obs() -> bool:
        """final_obs shares next_obs's memory, and where an episode ended it holds the new episode's start."""
        steps = rollout()
        return bool(run.get("aliased")) and any(
            np.allclose(f["final_obs"][i], f["next_obs"][i]) and np.abs(f["next_obs"][i]).max() <= 0.05
            for _, f in steps for i in np.flatnonzero(f["terminated"] | f["truncated"]))

    def swapped_obs() -> bool:
        """Where an episode ended, final_obs holds the reset observation and next_obs the true last one."""
        steps = rollout()
        swapped = []
        for t, (prev, f) in enumerate(steps):
            for i in np.flatnonzero(f["terminated"] | f["truncated"]):
                if t > 0 and (steps[t - 1][1]["terminated"][i] or steps[t - 1][1]["truncated"][i]):
                    continue  # acted from the swapped next_obs of the step before: no reference to replay
                last, start = f["next_obs"][i], f["final_obs"][i]
                swapped.append(np.allclose(last, true_step(prev[i], 1)[0], atol=1e-4)
                               and np.abs(start).max() <= 0.05 and not np.allclose(start, last))
        return bool(swapped) and all(swapped)

    def lazy_reset() -> bool:
        """An ended copy is reset at the start of the next step() instead of in the step where it ended (like
        NEXT_STEP): next_obs repeats the last observation, and the next step starts from a new episode's start."""
        steps = rollout()
        seen = []
        for t, (_, f) in enumerate(steps[:-1]):
            following = steps[t + 1][1]
            for i in np.flatnonzero(f["terminated"] | f["truncated"]):
                last = f["next_obs"][i]
                moved = following["final_obs"][i]
                # one step from a CartPole start (within ±0.05) moves the cart and the pole by under 0.05 * 0.02
                seen.append(np.allclose(last, f["final_obs"][i]) and np.abs(last).max() > 0.05
                            and np.abs(moved[[0, 2]]).max() <= 0.0511
                            and not np.allclose(moved, true_step(last, 1)[0], atol=1e-4))
        return bool(seen) and all(seen)

    def acted_on_obs_as_final() -> bool:
        pairs = [(prev[i], f["final_obs"][i]) for prev, f in rollout() for i in range(n_envs)]
        return np.mean([np.allclose(a, b) for a, b in pairs]) > 0.9

    def zeros_where_running() -> bool:
        """final_obs is all zeros in the rows where no episode ended (gymnasium's info["final_obs"] style)."""
        rows = [f["final_obs"][i] for _, f in rollout() for i in np.flatnonzero(~(f["terminated"] | f["truncated"]))]
        return bool(rows) and all(not row.any() for row in rows)

    def reset_obs_as_final() -> bool:
        """Where an episode ended, final_obs is the reset observation (equal to next_obs); elsewhere it is right."""
        seen = []
        for prev, f in rollout():
            for i in range(n_envs):
                if f["terminated"][i] or f["truncated"][i]:
                    seen.append(np.allclose(f["final_obs"][i], f["next_obs"][i])
                                and np.abs(f["next_obs"][i]).max() <= 0.05)
                elif not np.allclose(f["final_obs"][i], true_step(prev[i], 1)[0], atol=1e-4):
                    return False
        return bool(seen) and all(seen)

    def shared_env() -> bool:
        """The copies are one env object: copy i's step continues from where copy i - 1's step left the env."""
        chained = [any(np.allclose(f["final_obs"][i], true_step(f[k][i - 1], 1)[0], atol=1e-4)
                       for k in ("final_obs", "next_obs"))  # the reset of copy i - 1 came before or after
                   for _, f in rollout() for i in range(1, n_envs)]
        return bool(chained) and float(np.mean(chained)) > 0.9

    def terminated_flags():
        for t, (prev, fields) in enumerate(rollout()):
            for i in range(n_envs):
                _, reward, terminated = true_step(prev[i], 1)
                if bool(fields["terminated"][i]) != terminated or bool(fields["truncated"][i]):
                    raise Fail(
                        f"terminated={terminated}, truncated=False for copy {i} at step {t} "
                        "(the pole fell or not; no time limit reached)",
                        f"terminated={bool(fields['terminated'][i])}, truncated={bool(fields['truncated'][i])}",
                        "Pass on each copy's own terminated and truncated flags from env.step().",
                    )
                if abs(float(fields["rewards"][i]) - reward) > 1e-6:
                    raise Fail(f"reward {reward} for copy {i} at step {t}", fmt(fields["rewards"][i]))

    def truncation_apart():
        env = make(2, max_episode_steps=5)
        reset(env, 0, 2)
        for t in range(5):
            fields = step(env, np.full(2, t % 2), 2)
        term, trunc = fields["terminated"], fields["truncated"]
        if term.any() or not trunc.all():
            hint = "Keep the two flags apart: return terminated and truncated as env.step() gave them."
            if not term.any() and not trunc.any():
                hint = (
                    "No copy was cut at step 5, although the env handed to your class has max_episode_steps=5: "
                    "your copies do not carry the env's time limit (an env built anew from its id, such as "
                    "gym.make(env.spec.id), gets the registry's limit of 500). Copy the env you were given "
                    "(copy.deepcopy(env)), wrappers included."
                )
            raise Fail(
                "terminated=[False, False], truncated=[True, True] at step 5 with max_episode_steps=5 "
                "(the pole is still up)",
                f"terminated={term.tolist()}, truncated={trunc.tolist()}",
                hint,
            )

    def cut_as_termination() -> bool:
        env = make(2, max_episode_steps=5)
        reset(env, 0, 2)
        for t in range(5):
            fields = step(env, np.full(2, t % 2), 2)
        seen["flags"] = fields["terminated"].tolist(), fields["truncated"].tolist()
        return bool(fields["terminated"].all())

    seen: dict = {}

    def limit_episodes() -> list[list[tuple[int, bool]]]:
        """15 steps of 2 copies with max_episode_steps=5, the pole kept up: per copy, (length, truncated) of each
        episode that ended after the copy's first time-limit cut, if that cut came at step 5 and reset the copy
        (otherwise ``None`` for that copy: the other tests say what went wrong)."""
        if "limit" not in run:
            env = make(2, max_episode_steps=5)
            reset(env, 0, 2)
            episodes: list = [[], []]
            length, cut = [0, 0], [False, False]
            for t in range(15):
                fields = step(env, np.full(2, t % 2), 2)
                for i in range(2):
                    length[i] += 1
                    ended = bool(fields["terminated"][i] or fields["truncated"][i])
                    if cut[i] and episodes[i] is not None and (ended or length[i] == 6):  # 6: ran past the limit
                        episodes[i].append((length[i], bool(fields["truncated"][i])))
                    if not ended:
                        continue
                    if not cut[i]:
                        nxt, fin = fields["next_obs"][i], fields["final_obs"][i]
                        reset_here = not np.allclose(nxt, fin) and np.abs(nxt).max() <= 0.05
                        if not (t == 4 and fields["truncated"][i] and reset_here):
                            episodes[i] = None  # not cut at step 5, or not reset: other tests report it
                        cut[i] = True
                    length[i] = 0
            run["limit"] = episodes
        return run["limit"]

    def limit_restarts():
        for i, episodes in enumerate(limit_episodes()):
            if not episodes:
                continue
            lengths = [n for n, _ in episodes]
            wrong = [k for k, (n, truncated) in enumerate(episodes) if n > 5 or (n != 5 and truncated)]
            if wrong:
                k = wrong[0]
                raise Fail(f"copy {i}'s episode {k + 2} to last its full 5 steps, like the first, cut at step 5 "
                           "(max_episode_steps=5; the pole stays up)",
                           ("it ran on past 5 steps without a cut" if lengths[k] > 5 else
                            f"it was cut after {lengths[k]} step{'s' if lengths[k] != 1 else ''}; the lengths of "
                            f"the episodes after the first cut: {lengths}"),
                           "Every episode gets the whole time limit: the TimeLimit wrapper counts the steps since "
                           "the copy's last reset, so reset an ended copy through its wrappers (env.reset()).")

    def limit_never_restarts() -> bool:
        """After its first cut, every episode of a copy is cut again after one step: the counter never restarts."""
        runs = [e for e in limit_episodes() if e]
        return bool(runs) and all(len(e) >= 2 and all(n == 1 and truncated for n, truncated in e) for e in runs)

    transition_tests = ["final_obs is the true last observation of each transition",
                        "auto-reset after an episode ends (next_obs starts the new episode)"]
    flags_test = "terminated and rewards match each copy's env.step()"
    limit_test = "the time limit starts again with every episode of a copy (past two cuts)"
    tests = [
        Test("reset(seed) returns an array (num_envs, obs_dim)", reset_shape, required=True),
        Test(OWN_CODE, own_code_test(reset_and_step, references, "your class",
                                     lambda: inherited(cls, Wrapper, methods), cls), required=True),
        Test("different copies get different seeds", different_seeds),
        Test("reset with the same seed gives the same start", reproducible),
        Test(
            "step returns next_obs, final_obs, rewards, terminated, truncated with one row per copy",
            step_shapes,
            required=True,
        ),
        Test("final_obs is the true last observation of each transition", final_obs_true),
        Test("auto-reset after an episode ends (next_obs starts the new episode)", auto_reset),
        Test("every episode of a copy starts from a new state (no re-seeding at auto-reset)", fresh_starts),
        Test(flags_test, terminated_flags),
        Test("terminated vs truncated kept apart (time limit gives truncated)", truncation_apart),
        Test(limit_test, limit_restarts),
    ]
    try:
        mistakes = [
            Mistake(
                "final_obs and next_obs are the same array (stored without a copy): resetting an ended copy into "
                "next_obs overwrites its final observation too.",
                aliased_final_obs,
                "Two names for one array share every change. Give final_obs its own memory (a copy) before the "
                "reset observations are written into next_obs.",
                explains=transition_tests,
            ),
            Mistake(
                "final_obs and next_obs swapped: where an episode ended, final_obs holds the reset observation of "
                "the new episode and next_obs the last observation of the old one.",
                swapped_obs,
                "The two differ only where an episode ended. final_obs is the s' of the transition just made: the "
                "observation env.step() returned, before the reset. next_obs is what the agent acts on next: the "
                "new episode's first observation, from the reset. Yours are the other way round (the next step's "
                "replay then starts from the old episode's last state, so its flags look wrong too).",
                explains=[*transition_tests, flags_test],
            ),
            Mistake(
                "an ended copy is reset lazily, at the start of the next step() call, instead of in the step where "
                "its episode ended.",
                lazy_reset,
                "Your class resets a copy whose episode ended only when step() is called again (like NEXT_STEP), so "
                "the step where the episode ended returns its last observation as next_obs, and the next step's "
                "transition starts from a new episode the agent never saw (its final_obs, flags and reward belong "
                "to that new episode). Reset the copy in the same step where its episode ended: keep the "
                "observation env.step() returned as final_obs, and return the reset observation as next_obs.",
                explains=[*transition_tests, flags_test],
            ),
            Mistake(
                "final_obs is the observation the action was taken in, not the one env.step() returned.",
                acted_on_obs_as_final,
                "A transition goes from obs (before the step) to final_obs (after it). Store the observation that "
                "each copy's env.step() returns as its final_obs (and as its next_obs unless the episode ended).",
                explains=transition_tests,
            ),
            Mistake(
                "a time-limit cut was reported as a termination (terminated = terminated or truncated): the copies "
                "cut at step 5 with the pole still up came back terminated.",
                cut_as_termination,
                lambda: "With max_episode_steps=5 and the pole up, your flags at step 5 were terminated="
                f"{seen['flags'][0]}, truncated={seen['flags'][1]}"
                + (": the cut shows only as a termination. " if not any(seen["flags"][1]) else ". ")
                + "The two flags mean different things to the learner: terminated says the state has no future "
                "(no bootstrap), truncated says only that the episode was cut (the state still has a future). "
                "Report each copy's two flags as its env.step() gave them; `done` (either of the two) is only for "
                "deciding when to reset.",
                explains=["terminated vs truncated kept apart (time limit gives truncated)"],
            ),
            Mistake(
                "the time limit's counter is never reset: after a copy's first cut, every step comes back "
                "truncated.",
                limit_never_restarts,
                "The time limit's counter is never reset: reset the copy through its wrappers, e.g. env.reset(), "
                "not env.unwrapped.reset(). The TimeLimit wrapper counts the steps since its own reset() was "
                "called; a reset that bypasses it starts a new episode in the inner env while the counter stays "
                "past the limit, so the copy's every later episode is cut after one step.",
                explains=[limit_test],
            ),
            Mistake(
                "final_obs is zeros where no episode ended (like gymnasium's info[\"final_obs\"]): where a copy's "
                "episode goes on, its final_obs must equal its next_obs.",
                zeros_where_running,
                "In this exercise final_obs is the s' of every copy's transition, not only of the ended ones: the "
                "learner stores (obs, action, reward, final_obs) for all copies at every step. Where no episode "
                "ended, the observation env.step() returned is both final_obs and next_obs; only where an episode "
                "ended do they differ (next_obs is then the reset observation).",
                explains=transition_tests,
            ),
            Mistake(
                "where an episode ended, you stored the reset observation (the new episode's first one) as "
                "final_obs, not the observation env.step() returned.",
                reset_obs_as_final,
                "Your next_obs is right; final_obs is overwritten by the reset too, so the transition that ends an "
                "episode loses its s' (and next_obs and final_obs come out equal, which the auto-reset test also "
                "flags). Keep the observation env.step() returned as final_obs, and put the reset observation in "
                "next_obs only.",
                explains=transition_tests,
            ),
            Mistake(
                "your copies are one and the same env object (e.g. [env] * num_envs): each copy's step moves on from "
                "where the previous copy's step left that env.",
                shared_env,
                "A list that repeats one object holds one env, not num_envs: stepping 'copy' 1 steps the env that "
                "'copy' 0 has just stepped, so the transitions chain through all copies, episodes end early and the "
                "time limit counts the steps of every copy together (which is why no copy is cut at step 5). Make "
                "num_envs independent copies of the env you were given (copy.deepcopy), wrappers included.",
                explains=[*transition_tests, "every episode of a copy starts from a new state (no re-seeding at "
                          "auto-reset)", flags_test, "terminated vs truncated kept apart (time limit gives truncated)",
                          limit_test],
            ),
        ]
        return run_tests(name, tests, signature, mistakes, subject="your class's methods")
    finally:
        reference.close()



# ----------------------------------------------------------------------------------------------------------------
# Exercise 2 of notebook 05: the price of NEXT_STEP (predicted and measured share of wasted env steps)

_SCRIPTED_LENGTHS = (3, 8, 2, 12, 6)  # the 2nd and 4th end by truncation; no n(n + 1) total: see lengths()
_SCRIPTED_TRUNCATED = (False, True, False, True, False)


class _ScriptedEnv:
    """A gymnasium-like env whose episodes last ``_SCRIPTED_LENGTHS`` steps, in turn; refuses a step after the end."""

    def __init__(self):
        self.episode, self.t, self.ended, self.resets, self.seeds = -1, 0, True, 0, []

    def reset(self, *, seed=None, options=None):
        self.episode, self.t, self.ended = self.episode + 1, 0, False
        self.resets += 1
        self.seeds.append(seed)
        return np.full(4, 0.01 * self.episode, dtype=np.float32), {}

    def step(self, action):
        if self.ended:
            raise RuntimeError("step() called after the episode ended (terminated or truncated) without reset()")
        self.t += 1
        k = self.episode % len(_SCRIPTED_LENGTHS)
        done = self.t >= _SCRIPTED_LENGTHS[k]
        self.ended = done
        truncated = done and _SCRIPTED_TRUNCATED[k]
        return np.full(4, 0.01 * self.t, dtype=np.float32), 1.0, done and not truncated, truncated, {}


# 10 vector steps of 2 copies (a period that repeats): which env steps are marked learnable=False and which end an
# episode. Unlike NEXT_STEP's, the two do not line up, so counting the one (or the steps after it) cannot stand in
# for the other; step 4 wastes both copies at once, so counting vector steps with a wasted copy falls short; the
# last step ends an episode, so counting the steps after ended episodes differs from counting the ended ones; the
# copies waste different numbers of steps (2 and 3 a period), so counting one copy's only cannot stand in either.
_WASTED = np.array([[0, 0], [1, 0], [0, 1], [0, 0], [1, 1], [0, 0], [0, 0], [0, 1], [0, 0], [0, 0]], dtype=bool)
_ENDED = np.array([[0, 1], [0, 0], [1, 0], [0, 0], [0, 0], [1, 1], [0, 0], [1, 0], [0, 1], [1, 0]], dtype=bool)
# one real (learnable) step that pays no reward: a reward of 0 does not mark a wasted step
_NO_REWARD = np.array([[0, 0], [0, 0], [0, 0], [0, 1], [0, 0], [0, 0], [0, 0], [0, 0], [0, 0], [0, 0]], dtype=bool)


class _ScriptedVectorEnv:
    """A vector env of 2 copies that returns a ``VectorStep`` with a known pattern of ``learnable=False`` steps."""

    num_envs = 2

    def __init__(self):
        self.t, self.resets = 0, 0
        self.latest = np.zeros((2, 4), dtype=np.float32)  # the observations it returned last (reset or step)
        self.asked: list[tuple[int, bool]] = []  # per policy call: the vector step, and whether obs was the latest

    def reset(self, seed=None):
        self.t, self.resets = 0, self.resets + 1
        self.latest = np.zeros((2, 4), dtype=np.float32)
        return self.latest.copy()

    def policy(self, obs):
        """``_act``, recording whether it was asked about the observations this env returned last."""
        seen = np.asarray(obs, dtype=np.float32)
        self.asked.append((self.t, seen.shape == self.latest.shape and np.allclose(seen, self.latest)))
        return _act(obs)

    def stale_calls(self) -> list[int]:
        """The vector steps before which the policy was asked about older observations than the latest."""
        return [t for t, latest in self.asked if not latest]

    def step(self, actions):
        from dqn_helpers.vector_env import VectorStep

        actions = np.asarray(actions)
        if actions.shape != (2,):
            raise ValueError(f"step() of 2 copies needs 2 actions, got an array of shape {actions.shape}")
        k = self.t % len(_WASTED)
        self.t += 1
        obs = np.full((2, 4), 0.01 * self.t, dtype=np.float32)
        self.latest = obs.copy()
        ended = _ENDED[k]
        rewards = np.where(_WASTED[k] | _NO_REWARD[k], 0.0, 1.0).astype(np.float32)
        return VectorStep(next_obs=obs, final_obs=obs.copy(), rewards=rewards, terminated=ended.copy(),
                          truncated=np.zeros(2, dtype=bool), learnable=~_WASTED[k])


def _scripted_counts(n_vector_steps: int) -> dict[str, int]:
    """What the scripted vector env's first ``n_vector_steps`` steps hold: the right count and the wrong ones."""
    k = np.arange(n_vector_steps) % len(_WASTED)
    wasted, ended = _WASTED[k], _ENDED[k]
    return {"wasted": int(wasted.sum()), "vector steps with a wasted copy": int(wasted.any(axis=1).sum()),
            "ended": int(ended.sum()), "after ended": int(ended[:-1].sum()),
            "no reward": int((wasted | _NO_REWARD[k]).sum()),
            "copy 0 wasted": int(wasted[:, 0].sum()), "copy 1 wasted": int(wasted[:, 1].sum())}


def _act(obs):
    """A policy for the scripted envs: push left in every row."""
    return np.zeros(len(np.atleast_2d(obs)), dtype=np.int64)


def _act_on_batch(obs):
    """Like the notebook's policies, this one takes a batch of observations (N, 4), never a single one."""
    obs = np.asarray(obs)
    if obs.ndim != 2:
        raise Fail("policy(obs) called with a batch of observations, shape (1, 4) for one env",
                   f"one observation of shape {obs.shape}",
                   "The notebook's policies take a batch (they read obs[:, 2]); given a single observation they "
                   "read the wrong numbers or fail. Pass the observation as a batch of one and take the one action "
                   "of the result.")
    return np.zeros(len(obs), dtype=np.int64)


def check_wasted_steps(predicted_share, mean_episode_length, wasted_share) -> CheckReport:
    """Check exercise 2 of notebook 05, each function on its own.

    ``predicted_share(mean_length)``: the share of wasted env steps in ``NEXT_STEP`` mode when
    episodes last ``mean_length`` real steps on average. ``mean_episode_length(env, policy,
    n_episodes)``: mean length of ``n_episodes`` episodes played with ``policy`` on a plain
    env (tested on a scripted env with known lengths, some ending by truncation).
    ``wasted_share(vec_env, policy, n_vector_steps)``: the share of ``learnable=False`` steps among all
    env steps played (tested on a scripted vector env whose wasted steps do not line up with its
    ended episodes nor with the steps after them, and which wastes both copies at one vector step).
    A failed ``predicted_share`` states the property asked for, not the values (they would give the
    formula away). Recognises a median of the episode lengths instead of their mean, and a
    ``wasted_share`` that counts vector steps with a wasted copy (divided by the env steps or by the
    vector steps), the steps that end an episode, the steps after those, the steps that paid no
    reward, one copy's wasted steps only (divided by the vector steps), divides by the vector steps,
    or gives the share of learnable steps. A ``predicted_share`` off by one the other way (dividing
    by L - 1: a ZeroDivisionError at L = 1) is named as the off-by-one, not as a division by zero.
    """
    name = "check_wasted_steps"
    signature = ("predicted_share(mean_length), mean_episode_length(env, policy, n_episodes), "
                 "wasted_share(vec_env, policy, n_vector_steps)")
    for fn, what in [(predicted_share, "predicted_share"), (mean_episode_length, "mean_episode_length"),
                     (wasted_share, "wasted_share")]:
        if not callable(fn):
            return not_callable_report(name, fn, f"a function {what}")

    def number(x, what) -> float:
        try:
            return float(x)
        except (TypeError, ValueError):
            raise Fail(f"{what} to return one number", f"{type(x).__name__}: {x!r:.60}") from None

    def prediction():
        # the share of wasted steps, 1 / (L + 1), for three mean lengths
        expected = {1: 0.5, 9: 0.1, 99: 0.01}
        hint = ("Follow one episode of L real steps and what NEXT_STEP adds after it: how many env steps does it "
                "occupy in all, and how many of them are wasted?")
        minus_one = ("Off by one the other way: your share is the wasted step divided by L - 1 steps. NEXT_STEP wastes "
                     "one step per ended episode of L real steps, so such an episode occupies L + 1 env steps in "
                     "all, one of them wasted, and the share is taken among all of them.")

        def divides_by_l_minus_one() -> bool:
            try:
                return all(abs(float(predicted_share(k)) - 1 / (k - 1)) < 1e-9 for k in (9, 99))
            except Exception:  # any error: not this mistake (the test reports the original one)
                return False

        try:
            got = {length: number(predicted_share(length), f"predicted_share({length})") for length in expected}
        except ZeroDivisionError:
            if divides_by_l_minus_one():
                raise Fail("predicted_share(L) for L = 1, 9 and 99: the share of all env steps that NEXT_STEP "
                           "wastes when episodes last L real steps on average, a fraction between 0 and 1",
                           "ZeroDivisionError at L = 1", minus_one) from None
            raise
        if all(abs(got[k] - v) < 1e-9 for k, v in expected.items()):
            return
        if divides_by_l_minus_one():
            hint = minus_one
        elif all(abs(got[k] - 1 / k) < 1e-9 for k in expected):
            hint = ("Off by one: you divided the wasted step by the L real steps only. The wasted step is an env "
                    "step too, and the share is taken among all the env steps played. " + hint)
        elif all(abs(got[k] - (1 - v)) < 1e-9 for k, v in expected.items()):
            hint = "That is the share of real steps; the question asks for the wasted ones."
        elif got[1] > 1 or got[1] < 0:
            hint = "A share lies between 0 and 1. " + hint
        raise Fail("predicted_share(L) for L = 1, 9 and 99: the share of all env steps that NEXT_STEP wastes when "
                   "episodes last L real steps on average, a fraction between 0 and 1 that wasted_share would "
                   "measure on such episodes", f"{[round(v, 6) for v in got.values()]} for L = 1, 9 and 99", hint)

    def lengths():
        for n_episodes in (5, 3):
            env = _ScriptedEnv()
            try:
                got = number(mean_episode_length(env, _act_on_batch, n_episodes), "mean_episode_length")
            except RuntimeError as err:
                if "without reset" not in str(err):
                    raise
                raise Fail(f"{n_episodes} episodes played, each ended on terminated or truncated",
                           "a step after an episode had ended",
                           "An episode ends when either flag is set: the scripted env ends some of its episodes by "
                           "truncation, like a time limit. Reset the env when terminated or truncated.") from None
            want = float(np.mean(_SCRIPTED_LENGTHS[:n_episodes]))
            seeded = [seed for seed in env.seeds if seed is not None]
            if len(seeded) > 1 and len(set(seeded)) == 1:
                raise Fail(f"{n_episodes} different episodes: the env seeded once (or with a new seed each time)",
                           f"every one of {len(seeded)} resets with seed={seeded[0]}",
                           "A real env reset with the same seed starts the same episode again, so your mean would "
                           "be one start state's length, not an average over episodes (this scripted env ignores "
                           "seeds, a real one does not). Seed the first reset only, or give each episode its own "
                           "seed.")
            if abs(got - want) < 1e-9:
                continue
            hint = "Count every env.step() call of an episode, from its reset to the step that ends it."
            # (a total of n(n + 1) steps would make "divided by the n + 1 resets" equal "one step short per
            # episode"; the scripted lengths avoid it, so the two hints below cannot be confused)
            total = float(np.sum(_SCRIPTED_LENGTHS[:n_episodes]))
            if env.resets == 0:
                hint = "Play the episodes on the env passed in (reset it, then step it with the policy's actions)."
            elif env.resets > n_episodes and abs(got - total / env.resets) < 1e-9:
                hint = (f"You divided the {total:g} steps by the number of resets ({env.resets}), which includes a "
                        "reset after the last episode: divide by the number of episodes played.")
            elif abs(got - (want - 1)) < 1e-9:
                hint = "One step short per episode: the step that ends an episode (its flag set) is a real step too."
            elif abs(got - (want + 1)) < 1e-9:
                hint = "One step too many per episode: a reset is not a step."
            scripted = list(_SCRIPTED_LENGTHS[:n_episodes])
            raise Fail(f"mean length {want:g} for {n_episodes} episodes of lengths {scripted} (a scripted env)",
                       f"{got:g}", hint)

    def wasted():
        for n_vector_steps in (10, 20):
            vec_env = _ScriptedVectorEnv()
            got = number(wasted_share(vec_env, vec_env.policy, n_vector_steps), "wasted_share")
            if stale := vec_env.stale_calls():
                raise Fail("the policy asked, before each vector step, about the observations the vec_env returned "
                           "last (the scripted observations change at every step)",
                           f"{len(stale)} of {len(vec_env.asked)} calls got older observations than the latest "
                           f"(first before vector step {stale[0] + 1})",
                           "Choose each vector step's actions for the state the copies are in now.")
            counts = _scripted_counts(n_vector_steps)
            want = counts["wasted"] / (2 * n_vector_steps)
            if abs(got - want) < 1e-9:
                continue
            hint = "Count the env steps marked learnable=False and divide by every env step played."
            if vec_env.t != n_vector_steps:
                hint = f"Play exactly n_vector_steps vector steps on the vec_env passed in (you played {vec_env.t})."
            raise Fail(f"share {want:g} after {n_vector_steps} vector steps of 2 copies on a scripted vector env "
                       f"({counts['wasted']} of the {2 * n_vector_steps} env steps marked learnable=False, "
                       f"{counts['ended']} ending an episode)", f"{got:g}", hint)

    measured: dict[int, float] = {}

    def share_counts(rule: Callable[[dict[str, int], int], float]) -> Callable[[], bool]:
        """A detector: wasted_share gives ``rule(counts of the first n vector steps, n)`` for n = 10, 20 and 7."""
        def detect() -> bool:
            for n in (10, 20, 7):
                if n not in measured:
                    vec_env = _ScriptedVectorEnv()
                    measured[n] = float(wasted_share(vec_env, _act, n))
                    if vec_env.t != n:
                        return False
                if abs(measured[n] - rule(_scripted_counts(n), n)) > 1e-9:
                    return False
            return True
        return detect

    def median_length() -> bool:
        """mean_episode_length gives the median of the scripted lengths (5, 3 and 4 episodes), not their mean."""
        for n_episodes in (5, 3, 4):
            got = float(mean_episode_length(_ScriptedEnv(), _act_on_batch, n_episodes))
            if abs(got - float(np.median(_SCRIPTED_LENGTHS[:n_episodes]))) > 1e-9:
                return False
        return True

    length_test = "mean_episode_length: mean real steps per episode, ending on either flag"
    share_test = "wasted_share: learnable=False steps among all env steps"
    tests = [
        Test("predicted_share: the share of wasted env steps for mean lengths 1, 9 and 99", prediction),
        Test(length_test, lengths),
        Test(share_test, wasted),
    ]

    def stale_policy_obs() -> bool:
        """wasted_share keeps asking the policy about an old observation: most calls after the first are stale."""
        vec_env = _ScriptedVectorEnv()
        wasted_share(vec_env, vec_env.policy, 10)
        return len(vec_env.asked) > 1 and len(vec_env.stale_calls()) >= (len(vec_env.asked) - 1) / 2

    mistakes = [
        Mistake("wasted_share never moves its observation on: the policy is asked about the same old observation "
                "at every vector step, not about the one the last step returned.", stale_policy_obs,
                "The share came out right only because this scripted vector env ignores the actions; with a real "
                "policy the actions would be chosen for a state the copies left long ago, so the measured share "
                "would not be that of the agent's own episodes. After each vector step, the observations to act on "
                "next are that step's next_obs: keep them for the next call of the policy.",
                explains=[share_test]),
        Mistake("mean_episode_length returns the median of the episode lengths, not their mean.", median_length,
                "The median is the middle length; the share of wasted steps depends on the total number of steps, "
                "so it needs the mean: the steps of all the episodes added up, divided by the number of episodes "
                "(np.mean, not np.median).", explains=[length_test]),
        Mistake("wasted_share counts the vector steps with a wasted copy, not the wasted env steps: a vector step "
                "in which two copies waste a step counts once.",
                share_counts(lambda c, n: c["vector steps with a wasted copy"] / (2 * n)),
                "Each copy plays its own env step at every vector step, and each of them is wasted or not on its "
                "own: count the learnable=False entries of every step (the scripted vector env has a step where "
                "both copies are wasted at once), e.g. (~step.learnable).sum(), not whether any copy was.",
                explains=[share_test]),
        Mistake("wasted_share counts the vector steps with a wasted copy and divides by the vector steps.",
                share_counts(lambda c, n: c["vector steps with a wasted copy"] / n),
                "The share is among env steps: count every learnable=False entry (two copies wasted at the same "
                "vector step are two wasted env steps) and divide by all the env steps played, n_vector_steps * "
                "num_envs.", explains=[share_test]),
        Mistake("wasted_share counts the steps that end an episode (terminated or truncated), not the wasted ones.",
                share_counts(lambda c, n: c["ended"] / (2 * n)),
                "You counted the steps that end an episode (terminated or truncated). Those are real steps, "
                "with a real final observation; the wasted steps are the ones the wrapper marks learnable=False. "
                "This scripted env marks other steps than the ended ones, so count the marks themselves.",
                explains=[share_test]),
        Mistake("wasted_share counts the steps that follow an ended episode, not the steps marked learnable=False.",
                share_counts(lambda c, n: c["after ended"] / (2 * n)),
                "You counted the step after each ended episode, where NEXT_STEP would waste one. What makes a step "
                "wasted is the wrapper's mark, learnable=False: the exercise measures the marks, and this scripted "
                "env puts them elsewhere (so that a count of the flags cannot stand in for them). Count the "
                "learnable=False entries of each step (your count also misses the step after an episode that ends "
                "on the last vector step).", explains=[share_test]),
        Mistake("wasted_share counts the steps that paid no reward, not the steps marked learnable=False.",
                share_counts(lambda c, n: c["no reward"] / (2 * n)),
                "You counted the steps that paid no reward. A real step can pay 0 too (this scripted env has one), "
                "and what makes a step wasted is the wrapper's mark, learnable=False, not its reward.",
                explains=[share_test]),
        Mistake("wasted_share counts one copy's wasted steps only (e.g. step.learnable[0]), not every copy's.",
                lambda: any(share_counts(lambda c, n, i=i: c[f"copy {i} wasted"] / n)() for i in range(2)),
                "You counted the learnable=False entries of one copy only and divided by the vector steps. Every "
                "copy plays an env step at each vector step and wastes its own steps (the scripted vector env's "
                "copies waste different numbers): count the learnable=False entries of all the copies, e.g. "
                "(~step.learnable).sum(), and divide by all the env steps played, n_vector_steps * num_envs.",
                explains=[share_test]),
        Mistake("wasted_share divides by the number of vector steps, not by the env steps.",
                share_counts(lambda c, n: c["wasted"] / n),
                "You divided by the number of vector steps; each vector step plays num_envs env steps, and the "
                "share is among env steps.", explains=[share_test]),
        Mistake("wasted_share returns the share of learnable steps, not of wasted ones.",
                share_counts(lambda c, n: 1 - c["wasted"] / (2 * n)),
                "That is the share of learnable steps; the wasted ones are those with learnable=False.",
                explains=[share_test]),
    ]
    return run_tests(name, tests, signature, mistakes, subject="your functions")
