"""tools/model_converters/invpt2mmmtl.py: a released InvPT checkpoint (the fixture: the
authors' own model at reduced size, random weights, saved in their container by
tools/model_converters/make_converter_fixtures.py) becomes an mmmtl checkpoint whose
model reproduces the authors' outputs; broken files and key mismatches are refused."""
import pytest
import torch
import torch.nn.functional as F
from tool_loader import load_tool

from mmmtl.apis import init_model
from mmmtl.utils.checkpoint_conversion import ConversionError, load_released_state_dict

from .utils import PYTHON, REPO_ROOT, run_tool, synthetic_options, write_config

FIXTURE = f'{REPO_ROOT}/tests/fixtures/converters/invpt_tiny_nyud_released.pth'
REFERENCE = f'{REPO_ROOT}/tests/fixtures/converters/invpt_tiny_nyud_reference.pth'
CONFIG = 'configs/synthetic/invpt_tiny_released_synthetic_nyud.py'
TRAINING_CONFIG_SKIPS = [dict(in_index=2), dict(in_index=1), dict(in_index=0, upsample=True)]
CONVERTER = 'tools/model_converters/invpt2mmmtl.py'


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    out = tmp_path_factory.mktemp('invpt') / 'invpt_tiny.pth'
    log = run_tool([PYTHON, CONVERTER, FIXTURE, CONFIG, str(out)])
    assert 'tensors from' in log
    return out


def max_differences(model, reference):
    """{'final'/'inter': {task: max |mmmtl - authors|}} on the fixture's input."""
    image = reference['input']
    with torch.no_grad():
        final, aux = model.forward_tasks_with_aux(image)
    ours = dict(final=final, inter=aux['inter'])
    return {
        kind: {task: (ours[kind][task] - F.interpolate(
            expected, size=image.shape[2:], mode='bilinear', align_corners=False)
                      ).abs().max().item() for task, expected in reference[kind].items()}
        for kind in ('final', 'inter')
    }


def test_converted_model_gives_the_authors_outputs(converted):
    model = init_model(CONFIG, str(converted))
    reference = torch.load(REFERENCE, weights_only=True)
    differences = max_differences(model, reference)
    for kind, per_task in differences.items():
        assert set(per_task) == {'semseg', 'depth', 'normal', 'edge'}
        for task, difference in per_task.items():
            assert difference <= 1e-5, (kind, task, difference)


def test_the_training_decoder_is_not_the_authors_computation(converted, tmp_path):
    """The block-18 skip of the training configs is what the released config removes:
    the converter refuses that model, naming the keys the authors' file cannot fill."""
    config = write_config(tmp_path / 'with_skip.py', CONFIG,
                          f'model = dict(decoder=dict(skips={TRAINING_CONFIG_SKIPS!r}))\n')
    with pytest.raises(AssertionError, match=r'missing keys: decoder\.skip_projs\.0\.weight'):
        run_tool([PYTHON, CONVERTER, FIXTURE, config, str(tmp_path / 'out.pth')])


def test_corrupted_and_wrong_files_are_refused_naming_the_file(tmp_path):
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(open(FIXTURE, 'rb').read()[:50_000])
    with pytest.raises(ConversionError, match=rf'{truncated}: not a readable PyTorch checkpoint'):
        load_released_state_dict(str(truncated))

    pickled = tmp_path / 'code.pth'
    torch.save({'model': _Exploit()}, pickled)  # would call a function when unpickled
    with pytest.raises(ConversionError, match=rf'{pickled}: refused to unpickle it'):
        load_released_state_dict(str(pickled))

    no_weights = tmp_path / 'no_weights.pth'
    torch.save({'epoch': 3, 'iter_count': 10}, no_weights)
    with pytest.raises(ConversionError, match=rf'{no_weights}: holds no state dict'):
        load_released_state_dict(str(no_weights))

    with pytest.raises(FileNotFoundError, match='missing.pth'):
        load_released_state_dict(str(tmp_path / 'missing.pth'))


class _Exploit:
    def __reduce__(self):
        return (print, ('unpickled code ran',))


def test_missing_and_unknown_keys_are_listed():
    converter = load_tool(CONVERTER)
    state = load_released_state_dict(FIXTURE)
    tasks = ['semseg', 'depth', 'normal', 'edge']
    assert converter.convert(state, tasks, 3, 'f.pth')  # complete as saved
    broken = dict(state)
    del broken['multi_task_decoder.invpt.invpt_stages.1.blocks.0.attn.proj_q.weight']
    broken['multi_task_decoder.extra_head.weight'] = torch.zeros(1)
    with pytest.raises(ConversionError) as error:
        converter.convert(broken, tasks, 3, 'f.pth')
    message = str(error.value)
    assert message.startswith('f.pth: ')
    assert 'missing in the released file: multi_task_decoder.invpt.invpt_stages.1.blocks.0.' \
           'attn.proj_q.weight' in message
    assert 'not used by the conversion' in message and 'multi_task_decoder.extra_head' in message
    with pytest.raises(KeyError, match=r"predicts \['depth', 'edge', 'normal', 'semseg'\]"):
        converter.convert(state, ['semseg', 'depth', 'normal', 'saliency'], 3, 'f.pth')


@pytest.mark.slow
def test_converted_teacher_evaluates_and_distils_through_the_tools(converted, synthetic_nyud_root,
                                                                   tmp_path):
    log = run_tool([PYTHON, 'tools/test.py', CONFIG, str(converted), '--work-dir',
                    str(tmp_path / 'test'), '--cfg-options',
                    f'test_dataloader.dataset.data_root={synthetic_nyud_root}'])
    assert 'semseg/mIoU' in log and 'depth/rmse' in log
    kdam = 'configs/synthetic/kdam_invpt-tiny-released_mtl-student_synthetic_nyud.py'
    log = run_tool([PYTHON, 'tools/train.py', kdam, '--work-dir', str(tmp_path / 'kdam'),
                    '--cfg-options', *synthetic_options(synthetic_nyud_root, max_iters=2,
                                                        validate=False),
                    f'model.teacher_ckpt={converted}'])
    assert f'loaded teacher from {converted}' in log
    assert 'loss_kd_semseg' in log
    assert (tmp_path / 'kdam' / 'iter_2.pth').is_file()
