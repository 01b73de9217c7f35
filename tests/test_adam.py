"""The package's small Adam matches torch.optim.Adam and keeps torch's compiler unimported."""

import subprocess
import sys

import torch

from dqn_helpers.adam import Adam
from dqn_helpers.q_network import make_q_network


def test_matches_torch_adam_step_for_step():
    torch.manual_seed(0)
    ours_net = make_q_network(4, 2, (32, 32))
    torch_net = make_q_network(4, 2, (32, 32))
    torch_net.load_state_dict(ours_net.state_dict())
    ours, reference = Adam(ours_net.parameters(), lr=1e-2), torch.optim.Adam(torch_net.parameters(), lr=1e-2)
    for _ in range(30):
        x = torch.randn(16, 4)
        for net, optimizer in ((ours_net, ours), (torch_net, reference)):
            optimizer.zero_grad()
            (net(x) ** 2).mean().backward()
            optimizer.step()
    for p, q in zip(ours_net.parameters(), torch_net.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    assert not torch.equal(next(ours_net.parameters()), next(make_q_network(4, 2, (32, 32)).parameters()))


def test_a_training_run_never_imports_the_compiler():
    code = ("import sys; from dqn_helpers import train; "
            "train(total_steps=1_200, learning_starts=200, eval_every=600, eval_episodes=2, progress=False); "
            "print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", "torch._dynamo was imported: ~1 s of start-up cost per process"


def test_a_step_without_gradients_leaves_the_weights_as_torch_does():
    """zero_grad between backward and step (a student's slip): no crash, nothing moves, as with torch's Adam."""
    torch.manual_seed(0)
    ours_net, torch_net = make_q_network(4, 2, (8,)), make_q_network(4, 2, (8,))
    torch_net.load_state_dict(ours_net.state_dict())
    ours, reference = Adam(ours_net.parameters(), lr=1e-2), torch.optim.Adam(torch_net.parameters(), lr=1e-2)
    before = [p.clone() for p in ours_net.parameters()]
    for net, optimizer in ((ours_net, ours), (torch_net, reference)):
        (net(torch.randn(5, 4)) ** 2).mean().backward()
        optimizer.zero_grad()
        optimizer.step()
    for p, q, b in zip(ours_net.parameters(), torch_net.parameters(), before):
        assert torch.equal(p, b) and torch.equal(q, b)
    assert ours.steps == 0
