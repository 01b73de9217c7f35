"""Self-checks for the "implement it yourself" exercises of the notebooks.

Each ``check_*`` function runs a handful of small, targeted tests on the object
you pass in, prints a plain-language report (one line per property, with what
was expected, what came back and a hint when something is off) and returns a
:class:`CheckReport`, which is truthy iff every test passed::

    from dqn_helpers.checks import check_td_target
    check_td_target(my_td_target)

When the failures point to a known mistake (indices instead of values, a buffer
that samples empty slots, ...), the report names that mistake first and marks the
failures that only follow from it.

=============================  ==========================================  ===================
check                          notebook                                    module
=============================  ==========================================  ===================
``check_discretise``           notebooks/01_continuous_states.ipynb        ``tabular``
``check_q_learning_update``    notebooks/01_continuous_states.ipynb        ``tabular``
``check_q_network``            notebooks/02_q_networks.ipynb               ``q_network``
``check_td_target``            notebooks/02_q_networks.ipynb               ``td_target``
``check_step_target``          notebooks/02_q_networks.ipynb               ``step_target``
``check_replay_buffer``        notebooks/03_replay_buffers.ipynb           ``replay_buffer``
``check_synchronize``          notebooks/04_target_networks.ipynb          ``synchronize``
``check_soft_update``          notebooks/04_target_networks.ipynb          ``soft_update``
``check_vectorized_env``       notebooks/05_vectorized_envs.ipynb          ``vector_env``
``check_epsilon_schedule``     notebooks/06_epsilon_decay.ipynb            ``epsilon``
``check_exponential_epsilon``  notebooks/06_epsilon_decay.ipynb            ``epsilon``
``check_evaluate``             notebooks/07_all_together.ipynb             ``evaluate``
``check_double_dqn_target``    notebooks/08_going_further.ipynb            ``double_dqn``
``check_dqn_update``           notebooks/09_write_your_own_dqn.ipynb       ``dqn_update``
``check_training_loop``        notebooks/09_write_your_own_dqn.ipynb       ``training_loop``
``check_probes``               notebooks/09_write_your_own_dqn.ipynb       ``probes``
=============================  ==========================================  ===================

The report and the runner live in :mod:`dqn_helpers.checks.framework`, the rendering of
answers in :mod:`~dqn_helpers.checks.formatting`; ``run_probes`` returns the probes'
predicted and optimal Q-values as a table, and ``check_probes(update, loop=training_loop)``
trains the whole agent (your loop, its acting and your update) on them.

A check never crashes or hangs on a broken answer: an exception raised by your code
(``NotImplementedError`` included, reported as "not implemented yet"), ``sys.exit()``, a
loop that never ends ("your function did not return within 10 s") and runaway memory
each become a failed line in the report (:mod:`~dqn_helpers.checks.limits`;
``DQN_CHECKS_TIME_LIMIT`` and ``DQN_CHECKS_MEMORY_LIMIT_MB`` change the limits). An answer
that calls, inherits or is the package's own solution fails the property "is your own
code" (:mod:`~dqn_helpers.checks.delegation`). Set the environment variable
``DQN_CHECKS_STRICT=1`` to turn a failed report into an ``AssertionError`` carrying the
same message (CI uses it to make sure the reference solutions pass).
"""

from dqn_helpers.checks.double_dqn import check_double_dqn_target
from dqn_helpers.checks.dqn_update import check_dqn_update
from dqn_helpers.checks.epsilon import check_epsilon_schedule, check_exponential_epsilon
from dqn_helpers.checks.evaluate import check_evaluate
from dqn_helpers.checks.framework import STRICT_ENV_VAR, CheckReport, CheckResult, lenient
from dqn_helpers.checks.probes import check_probes, run_probes
from dqn_helpers.checks.q_network import check_q_network
from dqn_helpers.checks.replay_buffer import check_replay_buffer
from dqn_helpers.checks.soft_update import check_soft_update
from dqn_helpers.checks.step_target import check_step_target
from dqn_helpers.checks.synchronize import check_synchronize
from dqn_helpers.checks.tabular import check_discretise, check_q_learning_update
from dqn_helpers.checks.td_target import check_td_target
from dqn_helpers.checks.training_loop import check_training_loop
from dqn_helpers.checks.vector_env import check_vectorized_env

__all__ = [
    "STRICT_ENV_VAR",
    "CheckReport",
    "CheckResult",
    "check_discretise",
    "check_double_dqn_target",
    "check_dqn_update",
    "check_epsilon_schedule",
    "check_evaluate",
    "check_exponential_epsilon",
    "check_probes",
    "check_q_learning_update",
    "check_q_network",
    "check_replay_buffer",
    "check_soft_update",
    "check_step_target",
    "check_synchronize",
    "check_td_target",
    "check_training_loop",
    "check_vectorized_env",
    "lenient",
    "run_probes",
]
