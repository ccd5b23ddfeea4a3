"""tools/model_converters/invpt2mmmtl.py and demt2mmmtl.py: a released checkpoint (the
fixtures: the authors' own models at reduced size, random weights, saved in their
containers by tools/model_converters/make_converter_fixtures.py from a named commit of
their code) becomes an mmmtl checkpoint whose model reproduces the authors' outputs;
broken files and key mismatches are refused, naming the file and the keys."""
import pytest
import torch
from tool_loader import load_tool

from mmmtl.apis import init_model
from mmmtl.utils.checkpoint_conversion import ConversionError, load_released_state_dict

from .utils import PYTHON, REPO_ROOT, run_tool, synthetic_options, write_config

FIXTURES = f'{REPO_ROOT}/tests/fixtures/converters'
TASKS = ['semseg', 'depth', 'normal', 'edge']
FAMILIES = {
    'invpt': dict(converter='tools/model_converters/invpt2mmmtl.py',
                  config='configs/synthetic/invpt_tiny_released_synthetic_nyud.py',
                  kdam='configs/synthetic/kdam_invpt-tiny-released_mtl-student_synthetic_nyud.py',
                  # a key of the preliminary decoder and one of the second UP stage
                  head_key='multi_task_decoder.invpt.invpt_stages.1.blocks.0.attn.proj_q.weight',
                  convert_args=(3,)),
    'demt': dict(converter='tools/model_converters/demt2mmmtl.py',
                 config='configs/synthetic/demt_tiny_released_synthetic_nyud.py',
                 kdam='configs/synthetic/kdam_demt-tiny-released_mtl-student_synthetic_nyud.py',
                 head_key='head.task_querys.2.in_proj_weight',
                 convert_args=(1,)),
}
TOLERANCE = 1e-5  # max |difference| in float32
max_differences = load_tool('tools/model_converters/compare_with_reference.py').max_differences


def released(family: str) -> str:
    return f'{FIXTURES}/{family}_tiny_nyud_released.pth'


@pytest.fixture(scope='module', params=list(FAMILIES))
def converted(request, tmp_path_factory):
    family = request.param
    spec = FAMILIES[family]
    out = tmp_path_factory.mktemp(family) / f'{family}_tiny.pth'
    log = run_tool([PYTHON, spec['converter'], released(family), spec['config'], str(out)])
    assert 'tensors from' in log
    return family, out


def test_converted_model_gives_the_authors_outputs(converted):
    family, checkpoint = converted
    reference = torch.load(f'{FIXTURES}/{family}_tiny_nyud_reference.pth', weights_only=True)
    model = init_model(FAMILIES[family]['config'], str(checkpoint))
    differences = max_differences(model, reference)
    assert set(differences) == ({'final', 'inter'} if family == 'invpt' else {'final'})
    for kind, per_task in differences.items():
        assert sorted(per_task) == sorted(TASKS)
        for task, difference in per_task.items():
            assert difference <= TOLERANCE, (family, kind, task, difference)


def test_demt_default_interaction_is_not_the_authors_computation(converted):
    """DeMT's default (attention across the tasks, for training from scratch) gives other
    outputs with the same weights: the released config's option is needed."""
    family, checkpoint = converted
    if family != 'demt':
        pytest.skip('DeMT only')
    reference = torch.load(f'{FIXTURES}/demt_tiny_nyud_reference.pth', weights_only=True)
    model = init_model(FAMILIES['demt']['config'], str(checkpoint),
                       cfg_options={'model.decoder.interaction_across_tasks': True})
    assert min(max_differences(model, reference)['final'].values()) > 1e-3


def test_invpt_training_decoder_is_refused(tmp_path):
    """The block-18 skip of the InvPT training configs is not in the authors' forward:
    the converter refuses that model, naming the keys the authors' file cannot fill."""
    config = write_config(tmp_path / 'with_skip.py', FAMILIES['invpt']['config'],
                          'model = dict(decoder=dict(skips=[dict(in_index=2), dict(in_index=1),'
                          ' dict(in_index=0, upsample=True)]))\n')
    with pytest.raises(AssertionError, match=r'missing keys: decoder\.skip_projs\.0\.weight'):
        run_tool([PYTHON, FAMILIES['invpt']['converter'], released('invpt'), config,
                  str(tmp_path / 'out.pth')])


class _Exploit:
    def __reduce__(self):
        return (print, ('unpickled code ran',))


def test_corrupted_and_wrong_files_are_refused_naming_the_file(tmp_path):
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(open(released('invpt'), 'rb').read()[:50_000])
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


@pytest.mark.parametrize('family', list(FAMILIES))
def test_missing_and_unknown_keys_are_listed(family):
    spec = FAMILIES[family]
    converter = load_tool(spec['converter'])
    state = load_released_state_dict(released(family))
    assert converter.convert(state, TASKS, *spec['convert_args'], 'f.pth')  # complete
    broken = dict(state)
    del broken[spec['head_key']]
    broken['head.extra.weight'] = torch.zeros(1)
    with pytest.raises(ConversionError) as error:
        converter.convert(broken, TASKS, *spec['convert_args'], 'f.pth')
    message = str(error.value)
    assert message.startswith('f.pth: ')
    assert f'missing in the released file: {spec["head_key"]}' in message
    assert 'not used by the conversion' in message and 'head.extra.weight' in message
    with pytest.raises(KeyError, match=r"predicts \['depth', 'edge', 'normal', 'semseg'\]"):
        converter.convert(state, ['semseg', 'depth', 'normal', 'saliency'],
                          *spec['convert_args'], 'f.pth')


@pytest.mark.slow
def test_converted_teacher_evaluates_and_distils_through_the_tools(converted, synthetic_nyud_root,
                                                                   tmp_path):
    family, checkpoint = converted
    spec = FAMILIES[family]
    log = run_tool([PYTHON, 'tools/test.py', spec['config'], str(checkpoint), '--work-dir',
                    str(tmp_path / 'test'), '--cfg-options',
                    f'test_dataloader.dataset.data_root={synthetic_nyud_root}'])
    assert 'semseg/mIoU' in log and 'depth/rmse' in log
    log = run_tool([PYTHON, 'tools/train.py', spec['kdam'], '--work-dir', str(tmp_path / 'kdam'),
                    '--cfg-options', *synthetic_options(synthetic_nyud_root, max_iters=2,
                                                        validate=False),
                    f'model.teacher_ckpt={checkpoint}'])
    assert f'loaded teacher from {checkpoint}' in log
    assert 'loss_kd_semseg' in log
    assert (tmp_path / 'kdam' / 'iter_2.pth').is_file()
