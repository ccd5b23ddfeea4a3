"""ATRC's context attention functions against explicit per-position loops."""
import math

import pytest
import torch

from mmmtl.models.layers.context_attention import (
    CONTEXT_TYPES,
    GlobalContextAttention,
    LabelContextAttention,
    LocalContextAttention,
    build_context_attention,
    dot_product_attention,
    linear_attention,
    local_window_attention,
    region_context,
    spatial_softmax,
)


def test_linear_attention_is_the_normalised_kernel_sum():
    gen = torch.Generator().manual_seed(0)
    query = torch.rand(2, 4, 5, generator=gen) + 0.1  # (N, D, P), non-negative
    key = torch.rand(2, 4, 7, generator=gen) + 0.1  # (N, D, Q)
    value = torch.randn(2, 3, 7, generator=gen)  # (N, M, Q)
    out = linear_attention(query, key, value)
    expected = torch.zeros(2, 3, 5)
    for n in range(2):
        for p in range(5):
            sims = [float(key[n, :, j] @ query[n, :, p]) for j in range(7)]
            expected[n, :, p] = sum(s * value[n, :, j] for j, s in enumerate(sims)) / sum(sims)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('kernel_size', [1, 3, 5])
def test_local_window_attention_matches_a_loop_with_zero_padding(kernel_size):
    gen = torch.Generator().manual_seed(1)
    query = torch.randn(1, 3, 4, 5, generator=gen)
    key = torch.randn(1, 3, 4, 5, generator=gen)
    value = torch.randn(1, 2, 4, 5, generator=gen)
    out = local_window_attention(query, key, value, kernel_size)
    radius = kernel_size // 2
    expected = torch.zeros(1, 2, 4, 5)
    for y in range(4):
        for x in range(5):
            sims, vals = [], []
            for dy in range(-radius, radius + 1):
                for dx in range(-radius, radius + 1):
                    yy, xx = y + dy, x + dx
                    inside = 0 <= yy < 4 and 0 <= xx < 5
                    # outside the map: similarity 0 (still in the softmax), value 0
                    sims.append(float(query[0, :, y, x] @ key[0, :, yy, xx]) if inside else 0.)
                    vals.append(value[0, :, yy, xx] if inside else torch.zeros(2))
            weights = torch.tensor(sims).div(math.sqrt(3)).softmax(0)
            expected[0, :, y, x] = sum(w * v for w, v in zip(weights, vals))
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)


def test_local_window_attention_rejects_an_even_window():
    x = torch.randn(1, 2, 3, 3)
    with pytest.raises(ValueError, match='odd'):
        local_window_attention(x, x, x, 4)


def test_region_context_pools_features_with_spatial_distributions():
    gen = torch.Generator().manual_seed(2)
    logits = torch.randn(2, 3, 4, 5, generator=gen)
    feats = torch.randn(2, 6, 4, 5, generator=gen)
    probs = spatial_softmax(logits)
    assert probs.shape == (2, 3, 20)
    torch.testing.assert_close(probs.sum(dim=2), torch.ones(2, 3))
    regions = region_context(probs, feats)
    assert regions.shape == (2, 6, 3, 1)
    for n in range(2):
        for k in range(3):
            weights = torch.exp(logits[n, k]) / torch.exp(logits[n, k]).sum()
            expected = (feats[n] * weights).sum(dim=(1, 2))
            torch.testing.assert_close(regions[n, :, k, 0], expected, rtol=1e-5, atol=1e-6)


def test_dot_product_attention_matches_softmax_of_scaled_products():
    gen = torch.Generator().manual_seed(3)
    query, key, value = (torch.randn(1, 4, 6, generator=gen), torch.randn(1, 4, 3, generator=gen),
                         torch.randn(1, 2, 3, generator=gen))
    out = dot_product_attention(query, key, value)
    for p in range(6):
        weights = (key[0].T @ query[0, :, p] / 2.0).softmax(0)  # sqrt(D) = 2
        torch.testing.assert_close(out[0, :, p], value[0] @ weights, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('guide', ['target', 'source'])
def test_label_context_reads_only_its_guide(guide):
    torch.manual_seed(0)
    block = LabelContextAttention(8, 4, guide).eval()
    target, source = torch.randn(1, 8, 5, 6), torch.randn(1, 8, 5, 6)

    def probs(classes):
        return spatial_softmax(torch.randn(1, classes, 5, 6))

    probs_of = dict(target=probs(3), source=probs(7))
    out = block(target, source, probs_of['target'], probs_of['source'])
    assert out.shape == (1, 4, 5, 6)
    other = 'source' if guide == 'target' else 'target'
    new_guide = dict(probs_of, **{guide: probs(3 if guide == 'target' else 7)})
    new_other = dict(probs_of, **{other: probs(7 if other == 'source' else 3)})
    assert not torch.allclose(block(target, source, new_guide['target'], new_guide['source']),
                              out)
    torch.testing.assert_close(
        block(target, source, new_other['target'], new_other['source']), out)
    with pytest.raises(ValueError, match=f'needs the {guide}'):
        block(target, source, None, None)


def test_blocks_have_the_reference_projection_layout_and_gradients():
    torch.manual_seed(0)
    target, source = torch.randn(2, 8, 5, 6), torch.randn(2, 8, 5, 6)
    for kind in CONTEXT_TYPES:
        block = build_context_attention(kind, 8, 4, local_kernel_size=3)
        if kind == 'none':
            assert block is None
            continue
        probs = spatial_softmax(torch.randn(2, 3, 5, 6))
        out = block(target, source, probs, probs)
        assert out.shape == (2, 4, 5, 6), kind
        out.sum().backward()
        assert all(p.grad is not None for p in block.parameters()), kind
        # query / key: two 1x1 conv-BN; value: one 1x1 conv-BN-ReLU
        assert len(block.query_project) == (3 if kind == 'global' else 2)
        assert sum(p.numel() for p in block.value_project.parameters()) == 8 * 4 + 2 * 4
    assert isinstance(build_context_attention('global', 8, 4), GlobalContextAttention)
    assert isinstance(build_context_attention('local', 8, 4), LocalContextAttention)
    with pytest.raises(ValueError, match="Unknown context type 'spatial'"):
        build_context_attention('spatial', 8, 4)


def test_global_context_outputs_are_convex_combinations_of_values():
    torch.manual_seed(0)
    block = GlobalContextAttention(8, 4).eval()
    source = torch.randn(1, 8, 5, 6)
    out = block(torch.randn(1, 8, 5, 6), source)
    values = block.value_project(source).flatten(2)
    # positive softplus kernels: every output lies within the values' range
    assert (out.flatten(2) <= values.max(dim=2, keepdim=True).values + 1e-5).all()
    assert (out.flatten(2) >= values.min(dim=2, keepdim=True).values - 1e-5).all()
