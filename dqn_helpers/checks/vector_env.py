"""Check of a vectorized env: seeds per copy, auto-reset, the true final observation, the two flags.

Built step by step in ``notebooks/05_vectorized_envs.ipynb``.
"""

from __future__ import annotations

import numpy as np

from dqn_helpers.checks.delegation import OWN_CODE, inherited, own_code_test
from dqn_helpers.checks.formatting import array, attr, fmt
from dqn_helpers.checks.framework import CheckReport, Fail, Mistake, Test, not_callable_report, run_tests


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
    ``terminated``; the class's own code (not :class:`dqn_helpers.VectorizedEnvWrapper`'s);
    new arrays at every step. Recognises ``final_obs`` stored without a copy of ``next_obs``.
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
        fields = {}
        for field_name in ("next_obs", "final_obs", "rewards", "terminated", "truncated"):
            fields[field_name] = array(attr(out, field_name, "step()'s result"), field_name)
            shape = (num_envs, 4) if field_name.endswith("obs") else (num_envs,)
            if fields[field_name].shape != shape:
                raise Fail(f"`{field_name}` of shape {shape}", f"shape {fields[field_name].shape}")
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

    def acted_on_obs_as_final() -> bool:
        pairs = [(prev[i], f["final_obs"][i]) for prev, f in rollout() for i in range(n_envs)]
        return np.mean([np.allclose(a, b) for a, b in pairs]) > 0.9

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
            if term.all() and trunc.all():
                hint = (
                    "terminated was set for a time-limit truncation (terminated = terminated or truncated?). "
                    "A truncated episode did not really end: the learner must still bootstrap from it. " + hint
                )
            raise Fail(
                "terminated=[False, False], truncated=[True, True] at step 5 with max_episode_steps=5 "
                "(the pole is still up)",
                f"terminated={term.tolist()}, truncated={trunc.tolist()}",
                hint,
            )

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
        Test("terminated and rewards match each copy's env.step()", terminated_flags),
        Test("terminated vs truncated kept apart (time limit gives truncated)", truncation_apart),
    ]
    transition_tests = ["final_obs is the true last observation of each transition",
                        "auto-reset after an episode ends (next_obs starts the new episode)"]
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
                "final_obs is the observation the action was taken in, not the one env.step() returned.",
                acted_on_obs_as_final,
                "A transition goes from obs (before the step) to final_obs (after it). Store the observation that "
                "each copy's env.step() returns as its final_obs (and as its next_obs unless the episode ended).",
                explains=transition_tests,
            ),
        ]
        return run_tests(name, tests, signature, mistakes, subject="your class's methods")
    finally:
        reference.close()

