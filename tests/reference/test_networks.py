"""Networks of the pixel agents: shapes, the /255 preprocessing, tied convolutions, the squashed-Gaussian log-prob."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal, TransformedDistribution
from torch.distributions.transforms import TanhTransform

from reference_impl.networks import (
    Actor,
    Critic,
    DeterministicTransitionModel,
    GaussianTransitionModel,
    PixelDecoder,
    PixelEncoder,
    RewardDecoder,
    conv_output_size,
    make_transition_model,
    mlp,
    orthogonal_init_,
)

SMALL_ENCODER = {"feature_dim": 12, "num_layers": 2, "num_filters": 8}


def random_pixels(shape, seed=0):
    return torch.randint(0, 256, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("side", "layers", "expected"), [(84, 4, 35), (84, 2, 39), (32, 2, 13), (64, 4, 25)])
def test_conv_output_size_matches_the_public_table(side, layers, expected):
    assert conv_output_size(side, layers) == expected


def test_public_default_shapes_encoder_and_decoder():
    torch.manual_seed(0)
    obs = random_pixels((2, 9, 84, 84))
    encoder = PixelEncoder((9, 84, 84), feature_dim=50, num_layers=4, num_filters=32)
    latent = encoder(obs)
    assert latent.shape == (2, 50)
    assert encoder.fc.in_features == 32 * 35 * 35
    decoder = PixelDecoder((9, 84, 84), feature_dim=50, num_layers=4, num_filters=32)
    assert decoder(latent).shape == (2, 9, 84, 84)


@pytest.mark.parametrize("side", [16, 17, 32, 33])
def test_decoder_returns_the_observation_shape_for_odd_and_even_sides(side):
    decoder = PixelDecoder((6, side, side), **SMALL_ENCODER)
    assert decoder(torch.zeros(3, 12)).shape == (3, 6, side, side)


def test_encoder_equals_the_written_out_formula_with_a_single_division_by_255():
    torch.manual_seed(1)
    encoder = PixelEncoder((6, 16, 16), **SMALL_ENCODER)
    obs = random_pixels((4, 6, 16, 16))
    h = obs.float() / 255.0
    for index, conv in enumerate(encoder.convs):
        h = F.relu(F.conv2d(h, conv.weight, conv.bias, stride=2 if index == 0 else 1))
    flat = h.permute(0, 2, 3, 1).flatten(1)  # (row, column, channel) order
    expected = torch.tanh(F.layer_norm(F.linear(flat, encoder.fc.weight, encoder.fc.bias), (12,),
                                       encoder.ln.weight, encoder.ln.bias))
    torch.testing.assert_close(encoder(obs), expected, rtol=1e-5, atol=1e-5)
    assert encoder(obs).abs().max() < 1.0


def test_encoder_rejects_wrong_observation_shapes():
    encoder = PixelEncoder((6, 16, 16), **SMALL_ENCODER)
    with pytest.raises(ValueError, match="expected observations"):
        encoder(random_pixels((2, 3, 16, 16)))
    with pytest.raises(ValueError, match="height == width"):
        PixelEncoder((6, 16, 12), **SMALL_ENCODER)
    with pytest.raises(ValueError, match="do not fit"):
        PixelEncoder((3, 8, 8), num_layers=4)


def test_the_head_on_detached_conv_features_trains_only_fc_and_layernorm():
    """The actor's path: conv features computed without gradient, then the trainable head."""
    encoder = PixelEncoder((6, 16, 16), **SMALL_ENCODER)
    with torch.no_grad():
        features = encoder.conv_features(random_pixels((2, 6, 16, 16)))
    encoder.head(features).sum().backward()
    assert all(p.grad is None for p in encoder.conv_parameters())
    assert encoder.fc.weight.grad is not None and encoder.ln.weight.grad is not None


def test_one_mlp_helper_builds_every_fully_connected_network():
    plain = mlp(5, 8, 3, num_hidden_layers=2)
    assert [type(m) for m in plain] == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear]
    normed = mlp(5, 8, 3, num_hidden_layers=1, layer_norm=True)
    assert [type(m) for m in normed] == [nn.Linear, nn.LayerNorm, nn.ReLU, nn.Linear]
    transition = DeterministicTransitionModel(feature_dim=4, action_dim=2, hidden_dim=8)
    assert [type(m) for m in transition.trunk] == [type(m) for m in normed]
    assert [type(m) for m in RewardDecoder(4, hidden_dim=8).net] == [type(m) for m in normed]
    # the chapter 4 latent model uses the same helper, and no module defines a second PixelEncoder
    from reference_impl.deepmdp import latent_model

    assert latent_model.mlp is mlp and not hasattr(latent_model, "PixelEncoder")


def test_tied_conv_weights_are_the_same_parameters_not_copies():
    source = PixelEncoder((6, 16, 16), **SMALL_ENCODER)
    other = PixelEncoder((6, 16, 16), **SMALL_ENCODER)
    other.tie_conv_weights_to(source)
    for own, theirs in zip(other.convs, source.convs, strict=True):
        assert own.weight is theirs.weight and own.bias is theirs.bias
        assert own.weight.data_ptr() == theirs.weight.data_ptr()
    with torch.no_grad():
        source.convs[0].weight.add_(1.0)
    torch.testing.assert_close(other.convs[0].weight, source.convs[0].weight)
    assert other.fc.weight is not source.fc.weight
    with pytest.raises(ValueError, match="cannot tie"):
        PixelEncoder((6, 16, 16), num_layers=3, num_filters=8).tie_conv_weights_to(source)


def test_actor_log_prob_equals_the_tanh_transformed_gaussian():
    torch.manual_seed(2)
    actor = Actor((6, 16, 16), action_dim=3, encoder=SMALL_ENCODER, hidden_dim=32)
    latent = torch.randn(64, 12)
    mode, action, log_pi, log_std = actor.policy(latent)
    mu, raw_log_std = actor.trunk(latent).chunk(2, dim=-1)
    assert torch.all(log_std >= actor.log_std_min) and torch.all(log_std <= actor.log_std_max)
    distribution = TransformedDistribution(Normal(mu, log_std.exp()), [TanhTransform()])
    clipped = action.clamp(-1 + 1e-6, 1 - 1e-6)
    mask = (action.abs() < 0.999).all(dim=-1)  # the reference's atanh is unstable at |a| -> 1
    expected = distribution.log_prob(clipped).sum(-1, keepdim=True)
    torch.testing.assert_close(log_pi[mask], expected[mask], rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(mode, torch.tanh(mu))
    assert action.abs().max() <= 1.0 and log_pi.shape == (64, 1)


def test_actor_mode_is_deterministic_and_draws_no_noise():
    actor = Actor((6, 16, 16), action_dim=2, encoder=SMALL_ENCODER, hidden_dim=32)
    obs = random_pixels((5, 6, 16, 16))
    state = torch.get_rng_state()
    mode, action, log_pi, _ = actor(obs, sample=False)
    assert torch.equal(torch.get_rng_state(), state)
    assert log_pi is None and torch.equal(mode, action)
    with pytest.raises(ValueError, match="log_std_min"):
        Actor((6, 16, 16), 2, SMALL_ENCODER, log_std_min=2.0, log_std_max=-2.0)


def test_critic_has_two_independent_heads():
    torch.manual_seed(3)
    critic = Critic((6, 16, 16), action_dim=2, encoder=SMALL_ENCODER, hidden_dim=32)
    q1, q2 = critic(random_pixels((4, 6, 16, 16)), torch.zeros(4, 2))
    assert q1.shape == q2.shape == (4, 1)
    assert not torch.allclose(q1, q2)
    assert not set(map(id, critic.Q1.parameters())) & set(map(id, critic.Q2.parameters()))
    with pytest.raises(ValueError, match="batch sizes"):
        critic.Q1(torch.zeros(4, 12), torch.zeros(3, 2))


def test_transition_models_and_reward_decoder_shapes():
    latent, action = torch.randn(7, 12), torch.randn(7, 2)
    deterministic = make_transition_model("deterministic", 12, 2, hidden_dim=16)
    assert isinstance(deterministic, DeterministicTransitionModel) and deterministic(latent, action).shape == (7, 12)
    gaussian = make_transition_model("gaussian", 12, 2, hidden_dim=16)
    assert isinstance(gaussian, GaussianTransitionModel)
    mu, sigma = gaussian(latent, action)
    assert mu.shape == sigma.shape == (7, 12)
    assert torch.all(sigma >= gaussian.min_sigma) and torch.all(sigma <= gaussian.max_sigma)
    assert RewardDecoder(12, hidden_dim=16)(latent).shape == (7, 1)
    with pytest.raises(ValueError, match="kind"):
        make_transition_model("stochastic", 12, 2)


def test_orthogonal_init_gives_orthogonal_linear_and_delta_orthogonal_conv():
    torch.manual_seed(4)
    encoder = PixelEncoder((6, 16, 16), feature_dim=12, num_layers=2, num_filters=8)
    encoder.apply(orthogonal_init_)
    weight = encoder.fc.weight  # [12, 8*5*5]: orthonormal rows
    torch.testing.assert_close(weight @ weight.T, torch.eye(12), rtol=1e-4, atol=1e-4)
    kernel = encoder.convs[1].weight
    centre = kernel[:, :, 1, 1]
    gain = math.sqrt(2.0)
    torch.testing.assert_close(centre @ centre.T, gain**2 * torch.eye(8), rtol=1e-4, atol=1e-4)
    off_centre = kernel.clone()
    off_centre[:, :, 1, 1] = 0
    assert torch.count_nonzero(off_centre) == 0 and torch.count_nonzero(encoder.convs[1].bias) == 0
