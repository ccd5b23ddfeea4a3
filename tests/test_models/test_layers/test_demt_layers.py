"""DeMT's blocks: per-channel deformable convolution, deformable mixer, task attention."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.ops import deform_conv2d

from mmmtl.models.layers import (
    ChannelDeformConv2d,
    DeformableMixerLayer,
    TaskAttention,
    TaskInteractionBlock,
    TaskQueryBlock,
    WindowOffsetPredictor,
    grid_sample_channel_deform_conv2d,
)


def fixed_offsets(conv: ChannelDeformConv2d, offsets: torch.Tensor) -> None:
    """Make the offset predictor output ``offsets`` (2C,) everywhere."""
    predictor = conv.offset_predictor
    with torch.no_grad():
        for layer in (predictor.displacement, predictor.to_offsets):
            layer.weight.zero_()
            layer.bias.zero_()
        predictor.to_offsets.bias.copy_(offsets)


def test_window_positions_are_absolute_neighbourhood_coordinates():
    predictor = WindowOffsetPredictor(channels=2, window=3)
    positions = predictor.window_positions(2, 3, torch.zeros(1))
    assert positions.shape == (1, 18, 2, 3)
    # window point 0 is the (-1, -1) neighbour; point 5 is (0, +1); 1-based pixel coordinates
    for row in range(2):
        for col in range(3):
            assert positions[0, 0, row, col] == row + 1 - 1  # row of point 0
            assert positions[0, 9, row, col] == col + 1 - 1  # column of point 0
            assert positions[0, 5, row, col] == row + 1      # row of point 5
            assert positions[0, 9 + 5, row, col] == col + 2  # column of point 5
    with pytest.raises(ValueError, match='window must be odd'):
        WindowOffsetPredictor(channels=2, window=2)


def test_offset_predictor_starts_from_the_regular_neighbourhood():
    """Zero-initialised displacement weights: offsets depend on the position only."""
    torch.manual_seed(0)
    predictor = WindowOffsetPredictor(channels=4)
    x = torch.randn(2, 4, 5, 6)
    offsets = predictor(x)
    assert offsets.shape == (2, 8, 5, 6)
    assert torch.allclose(offsets, predictor(torch.randn(2, 4, 5, 6)))
    assert torch.allclose(offsets[0], offsets[1])


def test_zero_offsets_make_a_1x1_convolution():
    torch.manual_seed(0)
    conv = ChannelDeformConv2d(3, 5)
    fixed_offsets(conv, torch.zeros(6))
    x = torch.randn(2, 3, 4, 7)
    assert torch.allclose(conv(x), F.conv2d(x, conv.weight, conv.bias), atol=1e-6)


def test_every_channel_is_sampled_at_its_own_offset():
    """Channel 0 reads one pixel to the right (dx=+1), channel 1 one pixel down
    (dy=+1), channel 2 in place; outside the map reads zero."""
    torch.manual_seed(0)
    conv = ChannelDeformConv2d(3, 4)
    fixed_offsets(conv, torch.tensor([0., 1., 1., 0., 0., 0.]))  # (dy, dx) per channel
    x = torch.randn(1, 3, 5, 6)
    shifted = torch.zeros_like(x)
    shifted[:, 0, :, :-1] = x[:, 0, :, 1:]
    shifted[:, 1, :-1] = x[:, 1, 1:]
    shifted[:, 2] = x[:, 2]
    assert torch.allclose(conv(x), F.conv2d(shifted, conv.weight, conv.bias), atol=1e-5)


def boundary_offsets(batch: int, channels: int, height: int, width: int) -> torch.Tensor:
    """(N, 2C, H, W) float64 offsets: random ones that reach well outside the map,
    whole-pixel ones, and ones landing exactly on / around the border."""
    offsets = torch.randn(batch, 2 * channels, height, width, dtype=torch.float64) * 3
    offsets[:, :, ::2] = torch.randint(-3, 4, offsets[:, :, ::2].shape).double()
    rows = torch.arange(height, dtype=torch.float64).view(-1, 1)
    cols = torch.arange(width, dtype=torch.float64).view(1, -1)
    # sample 0: channel 0 reads row -1, channel 1 row H - 1 half a pixel right, channel 2
    # just inside the first row (-0.999), channel 3 row H and column -1; sample 1: channel
    # 2 just inside the last row (H - 1.001)
    offsets[0, 0], offsets[0, 1] = -1 - rows, 0
    offsets[0, 2], offsets[0, 3] = height - 1 - rows, 0.5
    offsets[0, 4], offsets[1, 4] = -0.999 - rows, height - 1.001 - rows
    offsets[0, 6], offsets[0, 7] = height - rows, -1 - cols
    return offsets


@pytest.mark.parametrize('size', [(5, 7), (1, 4), (3, 1), (1, 1)])
def test_grid_sample_form_equals_torchvision(size):
    """The ONNX-exportable form reproduces deform_conv2d, zero outside the map."""
    torch.manual_seed(0)
    x = torch.randn(2, 6, *size, dtype=torch.float64)
    offsets = boundary_offsets(2, 6, *size)
    weight = torch.randn(4, 6, 1, 1, dtype=torch.float64)
    bias = torch.randn(4, dtype=torch.float64)
    expected = deform_conv2d(x, offsets, weight, bias)
    torch.testing.assert_close(grid_sample_channel_deform_conv2d(x, offsets, weight, bias),
                               expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grid_sample_channel_deform_conv2d(x, offsets, weight),
                               deform_conv2d(x, offsets, weight), rtol=1e-12, atol=1e-12)
    # channel 0 of sample 0 reads row -1 and channel 3 row H: zero everywhere
    for channel in (0, 3):
        alone = torch.zeros_like(weight)
        alone[:, channel] = 1
        torch.testing.assert_close(grid_sample_channel_deform_conv2d(x, offsets, alone)[0],
                                   torch.zeros(4, *size, dtype=torch.float64), rtol=0,
                                   atol=1e-12)


def test_grid_sample_form_shifts_channels_by_hand():
    """Channel 0 one pixel right, channel 1 one pixel down, zero past the border."""
    x = torch.arange(12.).view(1, 1, 3, 4).repeat(1, 2, 1, 1)
    offsets = torch.zeros(1, 4, 3, 4)
    offsets[0, 1] = 1.0  # channel 0: dx = +1
    offsets[0, 2] = 1.0  # channel 1: dy = +1
    eye = torch.eye(2).view(2, 2, 1, 1)
    out = grid_sample_channel_deform_conv2d(x, offsets, eye)
    torch.testing.assert_close(out[0, 0], torch.tensor([[1., 2, 3, 0], [5, 6, 7, 0],
                                                        [9, 10, 11, 0]]))
    torch.testing.assert_close(out[0, 1], torch.tensor([[4., 5, 6, 7], [8, 9, 10, 11],
                                                        [0, 0, 0, 0]]))


def test_grid_sample_form_has_torchvision_gradients():
    """Away from whole-pixel positions (where bilinear sampling has a kink)."""
    torch.manual_seed(0)
    x = torch.randn(2, 5, 4, 6, dtype=torch.float64, requires_grad=True)
    offsets = (torch.randn(2, 10, 4, 6, dtype=torch.float64) * 2).requires_grad_()
    weight = torch.randn(3, 5, 1, 1, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(3, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(2, 3, 4, 6, dtype=torch.float64)
    inputs = (x, offsets, weight, bias)
    expected = torch.autograd.grad(deform_conv2d(*inputs), inputs, upstream)
    got = torch.autograd.grad(grid_sample_channel_deform_conv2d(*inputs), inputs, upstream)
    for name, g, e in zip(('x', 'offset', 'weight', 'bias'), got, expected):
        torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-10, msg=name)


def test_mixer_layer_learns_offsets_and_keeps_shape():
    torch.manual_seed(0)
    layer = DeformableMixerLayer(8)
    x = torch.randn(2, 8, 6, 7)
    out = layer(x)
    assert out.shape == x.shape
    out.square().mean().backward()
    displacement = layer.deform.offset_predictor.displacement
    assert torch.all(displacement.weight == 0)  # zero-initialised ...
    assert displacement.weight.grad.abs().sum() > 0  # ... and trained
    assert all(p.grad is not None for p in layer.parameters())


def copy_to_multihead(attn: TaskAttention) -> nn.MultiheadAttention:
    reference = nn.MultiheadAttention(attn.embed_dims, attn.num_heads, batch_first=True)
    with torch.no_grad():
        reference.in_proj_weight.copy_(
            torch.cat([attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight]))
        reference.in_proj_bias.copy_(torch.cat([attn.q_proj.bias, attn.k_proj.bias,
                                                attn.v_proj.bias]))
        reference.out_proj.weight.copy_(attn.out_proj.weight)
        reference.out_proj.bias.copy_(attn.out_proj.bias)
    return reference.double()


@pytest.mark.parametrize('num_queries', [1, 4])
def test_task_attention_equals_nn_multihead_attention(num_queries):
    torch.manual_seed(0)
    attn = TaskAttention(16, 4)
    for param in attn.parameters():  # non-zero biases too
        nn.init.normal_(param)
    attn.double()
    reference = copy_to_multihead(attn)
    kv = torch.randn(6, 4, 16, dtype=torch.float64)
    query = kv if num_queries == 4 else torch.randn(6, 1, 16, dtype=torch.float64)
    expected = reference(query, kv, kv, need_weights=False)[0]
    assert torch.allclose(attn(query, kv), expected, atol=1e-10)
    assert sum(p.numel() for p in attn.parameters()) == sum(
        p.numel() for p in reference.parameters())


def test_task_attention_every_parameter_in_the_graph():
    torch.manual_seed(0)
    attn = TaskAttention(8, 2)
    attn(torch.randn(3, 1, 8), torch.randn(3, 4, 8)).sum().backward()
    assert all(p.grad is not None for p in attn.parameters())
    # the key bias cancels in the softmax, as in nn.MultiheadAttention
    assert torch.allclose(attn.k_proj.bias.grad, torch.zeros(8), atol=1e-6)
    with pytest.raises(ValueError, match='not divisible'):
        TaskAttention(10, 4)


def test_task_blocks_shapes_and_residual():
    torch.manual_seed(0)
    tokens = torch.randn(5, 3, 8)
    interacted = TaskInteractionBlock(8, 2)(tokens)
    assert interacted.shape == (5, 3, 8)
    assert torch.allclose(interacted.mean(-1), torch.zeros(5, 3), atol=1e-5)  # LayerNorm
    block = TaskQueryBlock(8, 2)
    out = block(tokens[:, :1], interacted)
    assert out.shape == (5, 1, 8)
    with torch.no_grad():
        block.norm.weight.zero_()
        block.norm.bias.zero_()
    assert torch.equal(block(tokens[:, :1], interacted), tokens[:, :1])


def test_interaction_of_one_image_is_the_value_and_output_projections():
    """across_tasks=False: what the authors' nn.MultiheadAttention computes on one image
    (a sequence of one): out_proj(v_proj(x)) per token, blind to the other tasks, while
    query and key projections stay in the graph (zero gradient)."""
    torch.manual_seed(0)
    block = TaskInteractionBlock(8, 2, across_tasks=False)
    tokens = torch.randn(5, 3, 8, requires_grad=True)
    out = block(tokens)
    attn = block.attn
    expected = block.norm(block.proj(attn.out_proj(attn.v_proj(tokens))))
    torch.testing.assert_close(out, expected)
    other = tokens.detach().clone()
    other[:, 1:] = torch.randn(5, 2, 8)
    torch.testing.assert_close(block(other)[:, 0], out[:, 0])  # task 0 ignores the others
    out.sum().backward()
    assert attn.q_proj.weight.grad is not None and attn.q_proj.weight.grad.abs().max() == 0
    assert attn.v_proj.weight.grad.abs().max() > 0
    default = TaskInteractionBlock(8, 2)
    default.load_state_dict(block.state_dict())
    assert not torch.allclose(default(tokens), out)
