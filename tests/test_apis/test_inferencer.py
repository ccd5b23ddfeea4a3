"""MultiTaskInferencer: inputs, batching, returned arrays, per-task files, the painting."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from mmmtl.apis import MultiTaskInferencer, inference_model, init_model
from mmmtl.structures import MultiTaskDataSample
from mmmtl.visualization import DEPTH_PNG_SCALE

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STUDENT_CFG = osp.join(REPO, 'configs/synthetic/mtl_student_synthetic_nyud.py')
KDAM_CFG = osp.join(REPO, 'configs/synthetic/kdam_student_synthetic_nyud.py')
TASKS = ['semseg', 'depth', 'normal', 'edge']
TILE = 48  # tile height of the painting in these tests (the images are 48 x 64)


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    torch.manual_seed(1)
    model = init_model(STUDENT_CFG)
    with torch.no_grad():
        for name, buf in model.named_buffers():
            if name.endswith('running_var'):
                buf.uniform_(0.5, 2.0)
    path = tmp_path_factory.mktemp('inferencer') / 'student.pth'
    torch.save(dict(state_dict=model.state_dict()), path)
    return str(path)


@pytest.fixture(scope='module')
def inferencer(checkpoint):
    inferencer = MultiTaskInferencer(KDAM_CFG, checkpoint, device='cpu')
    inferencer.visualizer.tile_height = TILE
    return inferencer


def images(root, split='val'):
    return sorted(str(p) for p in (root / 'images').glob(f'{split}_*.png'))


def test_folder_batched_writes_every_task_file(inferencer, checkpoint, synthetic_nyud_root,
                                               tmp_path):
    folder = synthetic_nyud_root / 'images'
    paths = images(synthetic_nyud_root, 'train') + images(synthetic_nyud_root, 'val')
    results = inferencer(str(folder), batch_size=3, out_dir=str(tmp_path), return_vis=True)
    assert len(results['predictions']) == len(paths) == 10
    assert len(results['visualization']) == 10

    # The reference: inference_model image by image (no batch padding: 48x64 pads
    # to 64x64 alone and in a batch of equal sizes alike).
    model = init_model(STUDENT_CFG, checkpoint)
    for path, arrays in zip(paths, results['predictions']):
        name = osp.splitext(osp.basename(path))[0]
        ref = inference_model(model, path)
        assert set(arrays) == set(TASKS)
        np.testing.assert_array_equal(arrays['semseg'], ref.pred_sem_seg.data[0].numpy())
        np.testing.assert_allclose(arrays['depth'], ref.pred_depth.data[0].numpy(), atol=1e-5)
        np.testing.assert_allclose(arrays['normal'],
                                   ref.pred_normal.data.numpy().transpose(1, 2, 0), atol=1e-5)
        np.testing.assert_allclose(arrays['edge'], ref.pred_edge.data[0].numpy(), atol=1e-5)

        pred = tmp_path / 'pred'
        semseg = cv2.imread(str(pred / 'semseg' / f'{name}.png'), cv2.IMREAD_UNCHANGED)
        assert semseg.dtype == np.uint8
        np.testing.assert_array_equal(semseg, arrays['semseg'])
        depth_png = cv2.imread(str(pred / 'depth' / f'{name}.png'), cv2.IMREAD_UNCHANGED)
        assert depth_png.dtype == np.uint16
        np.testing.assert_array_equal(
            depth_png, np.clip(np.round(arrays['depth'] * DEPTH_PNG_SCALE), 0, 65535))
        np.testing.assert_array_equal(np.load(pred / 'depth' / f'{name}.npy'), arrays['depth'])
        normal_bgr = cv2.imread(str(pred / 'normal' / f'{name}.png'))
        decoded = normal_bgr[..., ::-1].astype(np.float32) / 255 * 2 - 1
        np.testing.assert_allclose(decoded, arrays['normal'], atol=1 / 255 + 1e-6)
        edge = cv2.imread(str(pred / 'edge' / f'{name}.png'), cv2.IMREAD_UNCHANGED)
        np.testing.assert_allclose(edge / 255., arrays['edge'], atol=0.5 / 255 + 1e-6)

        painted = cv2.imread(str(tmp_path / 'vis' / f'{name}.png'))
        # the image, then a row per task: its tile and its key
        assert painted.shape[0] == 5 * TILE and painted.shape[1] > 64
        np.testing.assert_array_equal(painted[..., ::-1],
                                      results['visualization'][paths.index(path)])


def test_painting_shows_the_image_then_each_task_with_its_key(inferencer, synthetic_nyud_root):
    path = images(synthetic_nyud_root)[0]
    result = inferencer(path, return_vis=True, opacity=0.3)
    drawn = result['visualization']
    image = cv2.imread(path)[..., ::-1]
    # Below the caption, the top tile is the image itself (tile size = image size).
    np.testing.assert_array_equal(drawn[20:TILE, :64], image[20:])
    # The semseg tile shows the palette colour of the predicted class over the image.
    palette = np.asarray(inferencer.visualizer.dataset_meta['palette'], dtype=np.float64)
    semseg = result['predictions']['semseg']
    blended = np.round(0.3 * palette[semseg] + 0.7 * image)
    np.testing.assert_array_equal(drawn[TILE + 20:2 * TILE, :64], blended[20:])
    # right of the image and of the prediction: white (the image row) and the legend
    assert (drawn[:TILE, 64:] == 255).all() and (drawn[TILE:2 * TILE, 64:] != 255).any()
    with pytest.raises(ValueError, match='opacity'):
        inferencer(path, return_vis=True, opacity=1.5)


def test_arrays_lists_and_datasamples(inferencer, synthetic_nyud_root, tmp_path):
    paths = images(synthetic_nyud_root)[:2]
    arrays = [cv2.imread(path) for path in paths]
    done = inferencer.num_images  # images processed by earlier calls
    from_arrays = inferencer(arrays, out_dir=str(tmp_path))
    from_paths = inferencer(paths)
    for got, expected in zip(from_arrays['predictions'], from_paths['predictions']):
        np.testing.assert_array_equal(got['semseg'], expected['semseg'])
    # Arrays are named by a running number that continues across calls.
    assert sorted(p.name for p in (tmp_path / 'vis').iterdir()) == [
        f'{done:08d}.png', f'{done + 1:08d}.png']
    assert inferencer.num_images == done + 4
    samples = inferencer(paths, return_datasamples=True)
    assert isinstance(samples, list) and all(isinstance(s, MultiTaskDataSample) for s in samples)
    assert samples[0].metainfo['tasks'] == TASKS and 'pred_normal' in samples[0]
    single = inferencer(paths[0], return_datasamples=True)
    assert isinstance(single, MultiTaskDataSample)
    assert inferencer(arrays[0])['visualization'] is None  # no return_vis: no painting


def test_soft_outputs_on_request(inferencer, checkpoint, synthetic_nyud_root):
    paths = images(synthetic_nyud_root)[:2]
    assert 'soft_outputs' not in inferencer(paths[0])
    assert 'sem_seg_logits' not in inferencer(paths[0], return_datasamples=True)
    result = inferencer(paths, return_logits=True)
    model = init_model(STUDENT_CFG, checkpoint)
    for path, arrays, soft in zip(paths, result['predictions'], result['soft_outputs']):
        ref = inference_model(model, path, output_logits=True)
        probs = torch.softmax(ref.sem_seg_logits.data, dim=0).numpy().transpose(1, 2, 0)
        assert soft['semseg'].shape == (48, 64, 40)
        np.testing.assert_allclose(soft['semseg'], probs, atol=1e-5)
        np.testing.assert_array_equal(soft['semseg'].argmax(-1), arrays['semseg'])
        np.testing.assert_allclose(soft['depth'], ref.depth_logits.data[0].numpy(), atol=1e-5)
        np.testing.assert_allclose(soft['normal'], arrays['normal'], atol=1e-6)
        np.testing.assert_allclose(soft['edge'], arrays['edge'], atol=1e-6)
    sample = inferencer(paths[0], return_datasamples=True, return_logits=True)
    assert sample.sem_seg_logits.data.shape == (40, 48, 64)


def test_clear_errors(inferencer, tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.png'):
        inferencer(str(tmp_path / 'missing.png'))
    empty = tmp_path / 'empty'
    empty.mkdir()
    (empty / 'readme.txt').write_text('no images here')
    with pytest.raises(FileNotFoundError, match='holds no image'):
        inferencer(str(empty))
    with pytest.raises(ValueError, match='batch_size'):
        inferencer(str(tmp_path / 'missing.png'), batch_size=0)
    with pytest.raises(ValueError, match='unknown argument'):
        inferencer(np.zeros((8, 8, 3), np.uint8), palette_name='voc')
