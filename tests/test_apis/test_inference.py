"""init_model / inference_model: configs, checkpoints (plain and KDAM), images, errors."""
import importlib.util
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from mmmtl.apis import inference_model, init_model
from mmmtl.models.segmentors import MultiTaskEncoderDecoder
from mmmtl.registry import MODELS
from mmmtl.structures import MultiTaskDataSample

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STUDENT_CFG = 'configs/synthetic/mtl_student_synthetic_nyud.py'
TEACHER_CFG = 'configs/synthetic/mtl_teacher_synthetic_nyud.py'
KDAM_CFG = 'configs/synthetic/kdam_student_synthetic_nyud.py'
PASCAL_CFG = 'configs/synthetic/mtl_student_synthetic_pascal.py'
TASKS = ['semseg', 'depth', 'normal', 'edge']


def cfg_path(name: str) -> str:
    return osp.join(REPO, name)


def seeded_student(config: str = STUDENT_CFG, seed: int = 0) -> MultiTaskEncoderDecoder:
    """An untrained model whose weights (BN statistics included) are not the defaults."""
    torch.manual_seed(seed)
    model = init_model(cfg_path(config))
    with torch.no_grad():
        for name, buf in model.named_buffers():
            if name.endswith('running_var'):
                buf.uniform_(0.5, 2.0)
            elif name.endswith('running_mean'):
                buf.normal_(0, 0.1)
    return model


@pytest.fixture(scope='module')
def student_ckpt(tmp_path_factory):
    """A student checkpoint in the mmengine layout (meta + state_dict)."""
    model = seeded_student()
    path = tmp_path_factory.mktemp('ckpt') / 'student.pth'
    meta = dict(dataset_meta=dict(classes=['c%d' % i for i in range(40)],
                                  palette=[[i, 2 * i, 3 * i] for i in range(40)]))
    torch.save(dict(meta=meta, state_dict=model.state_dict()), path)
    return str(path), model.state_dict()


def val_image(root, index: int = 0) -> str:
    return str(root / 'images' / f'val_{index:05d}.png')


def reference_logits(model, image_bgr: np.ndarray, pad_to=None) -> dict:
    """Independent path: normalise as configured, pad to /32 (or ``pad_to``), forward, crop."""
    rgb = torch.from_numpy(image_bgr[..., ::-1].copy()).permute(2, 0, 1).float()
    mean = torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(3, 1, 1)
    x = (rgb - mean) / std
    height, width = x.shape[1:]
    pad_h, pad_w = (-height) % 32, (-width) % 32
    if pad_to is not None:
        pad_h, pad_w = pad_to[0] - height, pad_to[1] - width
    x = F.pad(x, (0, pad_w, 0, pad_h))[None]
    with torch.no_grad():
        logits = model.forward_tasks(x)
    return {task: value[0, :, :height, :width] for task, value in logits.items()}


def test_init_model_builds_loads_and_attaches_config(student_ckpt):
    path, state = student_ckpt
    model = init_model(cfg_path(STUDENT_CFG), path)
    assert isinstance(model, MultiTaskEncoderDecoder)
    assert not model.training
    assert model.tasks == TASKS
    assert isinstance(model.cfg, Config) and model.cfg.model.type == 'MultiTaskEncoderDecoder'
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0, msg=key)
    # The checkpoint's dataset meta wins over the dataset class's.
    assert model.dataset_meta['classes'][:2] == ['c0', 'c1']
    # SyncBN of the heads is reverted for CPU inference.
    assert not any(isinstance(m, torch.nn.SyncBatchNorm) for m in model.modules())


def test_init_model_accepts_config_object_and_options(student_ckpt):
    cfg = Config.fromfile(cfg_path(STUDENT_CFG))
    model = init_model(cfg, student_ckpt[0],
                       cfg_options={'model.test_cfg': dict(mode='slide', crop_size=(32, 32),
                                                           stride=(16, 16))})
    assert model.test_cfg['mode'] == 'slide'
    assert cfg.model.test_cfg['mode'] == 'whole'  # the caller's config is not modified
    # Without a checkpoint: the dataset's classes and palette.
    assert len(init_model(cfg).dataset_meta['classes']) == 40


def test_inference_model_matches_independent_forward(student_ckpt, synthetic_nyud_root):
    model = init_model(cfg_path(STUDENT_CFG), student_ckpt[0])
    path = val_image(synthetic_nyud_root)
    image = cv2.imread(path)
    result = inference_model(model, path)
    assert isinstance(result, MultiTaskDataSample)
    height, width = image.shape[:2]
    assert (height, width) == (48, 64)  # not a multiple of 32: padded, then cropped back
    ref = reference_logits(model, image)
    sem = result.pred_sem_seg.data
    assert sem.shape == (1, height, width)
    torch.testing.assert_close(sem[0], ref['semseg'].argmax(0))
    torch.testing.assert_close(result.pred_depth.data[0], ref['depth'][0].clamp(min=0),
                               rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(result.pred_normal.data, F.normalize(ref['normal'], dim=0),
                               rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(result.pred_edge.data[0], ref['edge'][0].sigmoid(),
                               rtol=1e-4, atol=1e-5)
    assert result.metainfo['img_path'] == path
    assert result.metainfo['tasks'] == TASKS


def test_inference_model_logits_on_request(student_ckpt, synthetic_nyud_root):
    model = init_model(cfg_path(STUDENT_CFG), student_ckpt[0])
    path = val_image(synthetic_nyud_root)
    assert not any(key.endswith('_logits') for key in inference_model(model, path).keys())
    result = inference_model(model, path, output_logits=True)
    assert model.test_cfg.get('output_logits', False) is False  # the call's setting only
    ref = reference_logits(model, cv2.imread(path))
    for task, field in (('semseg', 'sem_seg'), ('depth', 'depth'), ('normal', 'normal'),
                        ('edge', 'edge')):
        torch.testing.assert_close(getattr(result, f'{field}_logits').data, ref[task],
                                   rtol=1e-4, atol=1e-5)
    assert result.sem_seg_logits.data.shape == (40, 48, 64)
    # the config's test_cfg asks for them as well
    model = init_model(cfg_path(STUDENT_CFG), student_ckpt[0],
                       cfg_options={'model.test_cfg.output_logits': True})
    assert 'depth_logits' in inference_model(model, path)


def test_inference_model_array_list_and_sizes(student_ckpt, synthetic_nyud_root):
    model = init_model(cfg_path(STUDENT_CFG), student_ckpt[0])
    path = val_image(synthetic_nyud_root, 1)
    image = cv2.imread(path)
    from_path = inference_model(model, path)
    from_array = inference_model(model, image)
    torch.testing.assert_close(from_array.pred_sem_seg.data, from_path.pred_sem_seg.data)
    torch.testing.assert_close(from_array.pred_depth.data, from_path.pred_depth.data)
    # A list of differently sized images: a list of samples, each at its own size. The
    # batch is padded to the largest image (rounded up to /32) as by tools/test.py.
    big = cv2.resize(image, (100, 70))
    results = inference_model(model, [path, big])
    assert isinstance(results, list) and len(results) == 2
    assert results[0].pred_normal.data.shape == (3, 48, 64)
    assert results[1].pred_normal.data.shape == (3, 70, 100)
    for result, img in zip(results, (image, big)):
        ref = reference_logits(model, img, pad_to=(96, 128))
        torch.testing.assert_close(result.pred_sem_seg.data[0], ref['semseg'].argmax(0))
        torch.testing.assert_close(result.pred_depth.data[0], ref['depth'][0].clamp(min=0),
                                   rtol=1e-4, atol=1e-5)


def test_inference_model_pascal_tasks(synthetic_pascal_root):
    model = seeded_student(PASCAL_CFG)
    image = sorted((synthetic_pascal_root / 'JPEGImages').glob('*.jpg'))[0]
    result = inference_model(model, str(image))
    for key in ('pred_sem_seg', 'pred_human_parts', 'pred_saliency', 'pred_normal',
                'pred_edge'):
        assert key in result, key
        assert result.get(key).data.shape[-2:] == (48, 64)
    sal = result.pred_saliency.data
    assert float(sal.min()) >= 0 and float(sal.max()) <= 1


def test_clear_errors_for_bad_images(student_ckpt, tmp_path):
    model = init_model(cfg_path(STUDENT_CFG), student_ckpt[0])
    missing = str(tmp_path / 'nope.png')
    with pytest.raises(FileNotFoundError, match='nope.png'):
        inference_model(model, missing)
    not_image = tmp_path / 'notes.png'
    not_image.write_text('hello')
    with pytest.raises(ValueError, match='notes.png.*cannot be decoded'):
        inference_model(model, str(not_image))
    with pytest.raises(ValueError, match=r'\(H, W, 3\).*\(48, 64\)'):
        inference_model(model, np.zeros((48, 64), np.uint8))
    with pytest.raises(TypeError, match='file path or an'):
        inference_model(model, 3)
    with pytest.raises(FileNotFoundError, match='missing_config.py'):
        init_model(str(tmp_path / 'missing_config.py'))
    with pytest.raises(FileNotFoundError, match='absent.pth'):
        init_model(cfg_path(STUDENT_CFG), str(tmp_path / 'absent.pth'))


def test_checkpoint_that_does_not_fit_the_config(tmp_path):
    teacher = init_model(cfg_path(TEACHER_CFG))
    path = tmp_path / 'teacher.pth'
    torch.save(dict(state_dict=teacher.state_dict()), path)
    with pytest.raises(ValueError) as info:
        init_model(cfg_path(STUDENT_CFG), str(path))
    message = str(info.value)
    assert 'teacher.pth' in message and 'mtl_student_synthetic_nyud.py' in message
    assert 'shape mismatch' in message and 'backbone.patch_embed.projection.weight' in message
    # A pascal checkpoint on the nyud config: other tasks (missing / unexpected heads).
    pascal = init_model(cfg_path(PASCAL_CFG))
    torch.save(dict(state_dict=pascal.state_dict()), path)
    with pytest.raises(ValueError, match='missing keys: .*decoder.task_heads.depth') as info:
        init_model(cfg_path(STUDENT_CFG), str(path))
    message = str(info.value)
    assert 'unexpected keys: decoder.task_heads.human_parts' in message
    assert "the checkpoint has task heads ['edge', 'human_parts', 'normal', 'saliency', " \
        "'semseg'], the config ['depth', 'edge', 'normal', 'semseg']" in message


def test_checkpoint_refuses_arbitrary_pickles(tmp_path):
    """Safe loading: a checkpoint holding a non-allow-listed object is refused."""
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict={}, meta=dict(hook=print)), path)
    with pytest.raises(Exception, match='(?i)weights_only|unpickl'):
        init_model(cfg_path(STUDENT_CFG), str(path))


def _load_extract_student():
    spec = importlib.util.spec_from_file_location(
        'extract_student', osp.join(REPO, 'tools/model_converters/extract_student.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_student_of_a_kdam_checkpoint(tmp_path):
    """A distiller checkpoint (student.* keys) and its extracted student both load."""
    cfg = Config.fromfile(cfg_path(KDAM_CFG))
    cfg.model.teacher_ckpt = None
    cfg.model.allow_untrained_teacher = True
    torch.manual_seed(3)
    distiller = MODELS.build(cfg.model)
    state = distiller.state_dict()
    assert state and all(key.startswith('student.') for key in state)
    kdam_ckpt = tmp_path / 'iter_600.pth'
    torch.save(dict(meta=dict(iter=600), state_dict=state), kdam_ckpt)

    model = init_model(cfg_path(KDAM_CFG), str(kdam_ckpt))
    assert isinstance(model, MultiTaskEncoderDecoder)  # the student, no teacher
    assert model.cfg.model.type == 'KDAMDistiller'  # the full config is attached
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, state['student.' + key], rtol=0, atol=0)

    extracted = tmp_path / 'student.pth'
    _load_extract_student().main([str(kdam_ckpt), str(extracted)])
    for config in (KDAM_CFG, STUDENT_CFG):
        other = init_model(cfg_path(config), str(extracted))
        for key, value in other.state_dict().items():
            torch.testing.assert_close(value, state['student.' + key], rtol=0, atol=0)
