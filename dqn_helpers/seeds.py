"""Where the seeds of evaluation episodes come from, so that no two kinds of episode share one.

A run with ``seed=s`` starts its training episodes from seeds ``s, s+1, ...`` (one per env
copy, then the envs' own RNG). Greedy evaluations must start from states the agent never
trained on, and the final evaluation must not reuse the periodic ones (training keeps the
weights that scored best on those, so scoring them again would flatter the agent).
"""

PERIODIC_EVAL_SEED_OFFSET = 1_000_000  # periodic greedy evaluations: seed + this
FINAL_EVAL_SEED_OFFSET = 2_000_000  # final greedy evaluation after training: seed + this
