"""The task table and the task kinds: each kind's behaviour, in one place."""
import numpy as np
import pytest
import torch

import mmmtl.utils.tasks as legacy
from mmmtl.tasks import (
    ALL_TASKS,
    IGNORE_INDEX,
    TASK_KINDS,
    TASK_SPECS,
    GTLimits,
    TaskKind,
    TaskSpec,
    check_tasks,
    get_task_kind,
    get_task_spec,
    register_task,
    register_task_kind,
)


def test_every_task_has_a_registered_kind_and_the_old_import_path_works():
    assert ALL_TASKS == list(TASK_SPECS) == ['semseg', 'human_parts', 'saliency', 'edge',
                                             'depth', 'normal']
    for spec in TASK_SPECS.values():
        assert spec.task_kind is TASK_KINDS[spec.kind]
    assert legacy.get_task_spec is get_task_spec and legacy.TASK_SPECS is TASK_SPECS
    assert legacy.IGNORE_INDEX == IGNORE_INDEX == 255 and legacy.ALL_TASKS is ALL_TASKS
    assert legacy.check_tasks is check_tasks
    # The facts the kinds hold, as the table used to state them.
    assert [(s.pad_value, s.is_label, s.gt_channels) for s in TASK_SPECS.values()] == [
        (255, True, 1), (255, True, 1), (255, True, 1), (255, True, 1), (0., False, 1),
        (0., False, 3)]


def test_unknown_names_are_errors_naming_the_known_ones():
    with pytest.raises(KeyError, match="'flow'.*known kinds are"):
        TaskSpec('flow', 'flow', 'flow', (2, ), 'flow')
    with pytest.raises(KeyError, match="'flow'.*known kinds"):
        get_task_kind('flow')
    with pytest.raises(KeyError, match='already in the task table'):
        register_task(TASK_SPECS['depth'])
    with pytest.raises(KeyError, match='already registered'):
        register_task_kind(type(get_task_kind('depth')))
    with pytest.raises(TypeError, match='TaskKind subclass with a name'):
        register_task_kind(type('Nameless', (TaskKind, ), {}))


def test_valid_masks():
    label = torch.tensor([[[[1, 255], [0, 3]]]])
    expected = [[[True, False], [True, True]]]
    assert get_task_kind('label').valid_mask(label).tolist() == expected
    assert get_task_kind('binary').valid_mask(label).tolist() == expected
    depth = torch.tensor([[[[0., 2.], [float('nan'), 1.]]]])
    assert get_task_kind('depth').valid_mask(depth).tolist() == [[[False, True],
                                                                   [False, True]]]
    normal = torch.tensor([[[[0., 1.]], [[0., 0.]], [[0., 0.]]]])
    assert get_task_kind('normal').valid_mask(normal).tolist() == [[[False, True]]]


def test_logits_to_predictions():
    logits = torch.randn(4, 3, 5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(get_task_kind('label').predict(logits), logits.argmax(0, keepdim=True))
    binary = get_task_kind('binary')
    assert torch.allclose(binary.predict(logits[:1]), torch.sigmoid(logits[:1]))
    two = binary.predict(logits[:2])  # two class logits: P(class 1)
    assert two.shape == (1, 3, 5)
    assert torch.allclose(two[0], torch.sigmoid(logits[1] - logits[0]))
    assert get_task_kind('depth').predict(logits[:1]).min() >= 0
    normals = get_task_kind('normal').predict(logits[:3])
    assert torch.allclose(normals.norm(dim=0), torch.ones(3, 5))


def test_soft_outputs():
    logits = torch.randn(4, 3, 5, generator=torch.Generator().manual_seed(0))
    probs = get_task_kind('label').soft(logits)  # class probabilities, argmax = prediction
    assert probs.shape == (4, 3, 5)
    assert torch.allclose(probs.sum(0), torch.ones(3, 5))
    assert torch.allclose(probs[2], logits.exp()[2] / logits.exp().sum(0))
    assert torch.equal(probs.argmax(0, keepdim=True), get_task_kind('label').predict(logits))
    binary = get_task_kind('binary')
    assert torch.allclose(binary.soft(logits[:1]), torch.sigmoid(logits[:1]))
    assert torch.allclose(binary.soft(logits[:2])[0], torch.sigmoid(logits[1] - logits[0]))
    depth = get_task_kind('depth').soft(logits[:1])  # the raw map, negative values kept
    assert torch.equal(depth, logits[:1]) and depth.min() < 0
    normals = get_task_kind('normal').soft(logits[:3])
    assert torch.allclose(normals, logits[:3] / logits[:3].norm(dim=0))


def test_random_gt_is_valid_ground_truth():
    gen = torch.Generator().manual_seed(0)
    for spec in TASK_SPECS.values():
        kind = spec.task_kind
        gt = kind.random_gt(5, (6, 7), gen)
        assert gt.shape == (kind.gt_channels, 6, 7), spec.name
        assert kind.valid_mask(gt[None]).all(), spec.name
        bad, _ = kind.bad_gt(gt.permute(1, 2, 0).squeeze(-1).numpy(), GTLimits(num_classes=5))
        assert not bad.any(), spec.name


def test_bad_gt_marks_the_implausible_pixels_and_names_the_problem():
    def bad(kind, gt, **limits):
        mask, what = get_task_kind(kind).bad_gt(np.asarray(gt), GTLimits(**limits))
        return mask.tolist(), what

    assert bad('label', [[1, 4, 255]], num_classes=3) == (
        [[False, True, False]], 'labels [4] outside [0, 3) and not 255')
    assert bad('label', [[1, 255]], num_classes=3)[0] == [[False, False]]
    assert bad('binary', [[2, 1]])[1] == 'values [2] not in {0, 1, 255}'
    assert bad('depth', [[-1., 0., 3., 1e30]])[0] == [[True, False, False, True]]
    assert 'plausible range [0, 20] m' in bad('depth', [[1e30]])[1]
    assert bad('depth', [[30.]], depth_range=(0., 40.))[0] == [[False]]
    # An all-zero normals PNG decodes to (-1, -1, -1): |n| = 1.73, not a unit vector.
    mask, what = bad('normal', np.full((1, 2, 3), -1.))
    assert mask == [[True, True]] and '|n| in [1.73, 1.73]' in what
    assert bad('normal', [[[0., 0., 0.], [0., 0.6, 0.8]]])[0] == [[False, False]]
    assert '(H, W, 3)' in bad('normal', np.zeros((2, 2)))[1]
