"""Regenerate the fixtures of the released-checkpoint converters from the authors' code.

For each family this builds the authors' own model (their code, at the commit
named below, read from a local checkout) at a reduced depth and width that
keeps every key of the released model's structure (``--size full``: at the
released size), with random weights from a fixed seed (BatchNorm statistics
and biases randomised too, so that every mapping is exercised), runs it in
eval mode on a fixed input, and writes to ``--out-dir``:

- ``<family>_<size>_nyud_released.pth``: the state dict in the released
  file's container (InvPT: ``{'model': DDP state dict, 'optimizer',
  'scheduler', 'epoch', 'iter_count'}`` as their ``train_utils.py`` saves it;
  DeMT: PyTorch Lightning 1.1's ``{'state_dict', 'optimizer_states',
  'lr_schedulers', 'callbacks', ...}``);
- ``<family>_<size>_nyud_reference.pth``: ``{'input', 'final', 'inter',
  'commit'}``: the input batch (normalised) and the authors' outputs per task,
  under mmmtl's task names, before their final bilinear resize to the input
  (``final`` at stride 4, InvPT's ``inter`` at the preliminary decoder's size).

The reference code is not part of mmmtl: it is exported from the checkout
into a temporary directory (``git archive``) and imported from there, with
shims for today's libraries applied here, not to their files (DeMT: the head
width set in the exported copy, torch 1.7's attention reshaping, a stand-in
for Lightning's callback class). It needs ``einops`` and ``timm``
(``pip install einops``), which mmmtl's converters do not.

Compare a converted model with a reference file with
``tools/model_converters/compare_with_reference.py``.

Example:
    python tools/model_converters/make_converter_fixtures.py \
        --invpt ../Multi-Task-Transformer --demt ../DeMT --out-dir tests/fixtures/converters
"""
import argparse
import os
import os.path as osp
import subprocess
import sys
import tarfile
import tempfile
import types
from contextlib import contextmanager
from typing import Dict, Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F

INVPT_COMMIT = '870c6be100b95d44ffa0a9591775dd3faa2d5664'  # prismformore/Multi-Task-Transformer
INVPT_TASKS = {'semseg': 40, 'depth': 1, 'normals': 3, 'edge': 1}  # NYUD-v2, authors' names
INVPT_TO_MMMTL = {'semseg': 'semseg', 'depth': 'depth', 'normals': 'normal', 'edge': 'edge'}
# Model sizes: 'tiny' (the fixtures in the repository) keeps every key of the released
# structure at reduced width / depth; 'full' is the released models' size (ViT-L InvPT on
# NYUD-v2 at 448x576; DeMT Swin-S at 480x640), for a check outside the test suite.
# InvPT tiny: ViT of 4 blocks (width 32, 2 heads), features after blocks 1, 2, 3 and the
# normed last one; decoder 32 + 16 channels (512 + 64); two images of 128x192.
INVPT_SIZES = {
    'tiny': dict(image=(128, 192), decoder=dict(embed_dim=32, PRED_OUT_NUM_CONSTANT=16),
                 vit=dict(select_list=[1, 2, 3], patch_size=16, embed_dim=32, depth=4,
                          num_heads=2)),
    'full': dict(image=(448, 576), decoder=dict(embed_dim=512, PRED_OUT_NUM_CONSTANT=64),
                 vit=dict(select_list=[6, 12, 18], patch_size=16, embed_dim=1024, depth=24,
                          num_heads=16)),
}
DEMT_COMMIT = 'b638e140b0bf4c37e119f2dd8b9945386103a9fc'  # yangyangxu0/DeMT
DEMT_TASKS = INVPT_TASKS
# DeMT tiny: Swin of width 8 (heads 1-2-2-4, two blocks per stage, window 7), head width 32
# (256) with 4 heads, one image (the authors' test batch per GPU) of 96x128.
DEMT_SIZES = {
    'tiny': dict(image=(96, 128), head_width=32,
                 swin=dict(embed_dims=8, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4),
                           window_size=7)),
    'full': dict(image=(480, 640), head_width=256,  # Swin-S
                 swin=dict(embed_dims=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24),
                           window_size=7)),
}
SEED = 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--invpt', required=True,
                        help='git checkout (or bare mirror) of prismformore/Multi-Task-Transformer')
    parser.add_argument('--demt', required=True, help='git checkout of yangyangxu0/DeMT')
    parser.add_argument('--out-dir', default='tests/fixtures/converters')
    parser.add_argument('--size', choices=['tiny', 'full'], default='tiny',
                        help="tiny: the repository's fixtures; full: the released models' size "
                        '(GBs of memory, minutes)')
    parser.add_argument('--allow-other-commit', action='store_true',
                        help='use the checkout\'s HEAD even if it is not the named commit')
    return parser.parse_args()


@contextmanager
def exported(repo: str, commit: str, subdir: str, allow_other: bool) -> Iterator[str]:
    """Export ``subdir`` of the checkout's HEAD into a temporary directory."""
    head = subprocess.run(['git', '-C', repo, 'rev-parse', 'HEAD'], check=True,
                          capture_output=True, text=True).stdout.strip()
    if head != commit and not allow_other:
        raise SystemExit(f'{repo}: HEAD is {head}, the fixtures are made from {commit} '
                         '(check it out, or pass --allow-other-commit).')
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(['git', '-C', repo, 'archive', 'HEAD', subdir], check=True,
                                 capture_output=True).stdout
        tar_path = osp.join(tmp, 'src.tar')
        with open(tar_path, 'wb') as handle:
            handle.write(archive)
        with tarfile.open(tar_path) as tar:
            tar.extractall(tmp, filter='data')
        yield osp.join(tmp, subdir)


@contextmanager
def importable(root: str) -> Iterator[None]:
    """Put ``root`` first on ``sys.path``; forget the modules imported from it afterwards."""
    before = set(sys.modules)
    sys.path.insert(0, root)
    try:
        yield
    finally:
        sys.path.remove(root)
        for name in set(sys.modules) - before:
            if getattr(sys.modules[name], '__file__', None) and \
                    sys.modules[name].__file__.startswith(root):
                del sys.modules[name]


class _EasyDict(dict):
    """Stand-in for ``easydict.EasyDict`` (attribute access to a dict)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError as error:
            raise AttributeError(name) from error

    def __setattr__(self, name, value):
        self[name] = value


def randomise(model: nn.Module, seed: int) -> None:
    """Perturb every float parameter and buffer so that no default (BN statistics of 0 / 1,
    zero biases) hides a wrong mapping; BN batch counters get a random count, other
    integer buffers (index tables) are kept."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
            if name.endswith('num_batches_tracked'):
                tensor.fill_(int(torch.randint(1, 1000, (1,), generator=generator)))
            elif name.endswith('running_var'):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            elif tensor.dim() == 1 and name.endswith('weight'):  # norm scales
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            elif tensor.is_floating_point():
                tensor.add_(torch.randn(tensor.shape, generator=generator) * 0.05)


class PolynomialLR(torch.optim.lr_scheduler.LRScheduler):
    """The authors' scheduler's state (``utils/train_utils.py``: the same attributes), so
    that the fixture's container holds what theirs holds."""

    def __init__(self, optimizer, max_iterations, gamma=0.9, min_lr=0.):
        self.max_iterations, self.gamma, self.min_lr = max_iterations, gamma, min_lr
        super().__init__(optimizer)

    def get_lr(self):
        factor = (1 - self.last_epoch / float(self.max_iterations))**self.gamma
        return [(lr - self.min_lr) * factor + self.min_lr for lr in self.base_lrs]


def make_invpt(repo: str, out_dir: str, allow_other: bool, size: str = 'tiny') -> None:
    spec = INVPT_SIZES[size]
    sys.modules.setdefault('easydict', types.SimpleNamespace(EasyDict=_EasyDict))
    with exported(repo, INVPT_COMMIT, 'InvPT', allow_other) as root, importable(root):
        from models.transformer_net import TransformerNet
        from models.transformers import invpt as invpt_module
        from models.transformers import transformer_decoder
        from models.transformers.transformer_decoder import MLPHead
        from models.transformers.vit import VisionTransformer
        # SyncBatchNorm on one CPU process: same state dict and eval computation as BN.
        invpt_module.BATCHNORM = transformer_decoder.BATCHNORM = nn.BatchNorm2d

        torch.manual_seed(SEED)
        height, width = spec['image']
        p = _EasyDict(
            TASKS=_EasyDict(NAMES=list(INVPT_TASKS), NUM_OUTPUT=dict(INVPT_TASKS)),
            mtt_resolution_downsample_rate=2, **spec['decoder'])
        channels = spec['vit']['embed_dim']
        p.backbone_channels = [channels] * 4
        p.spatial_dim = [[height // 16, width // 16] for _ in range(4)]
        backbone = VisionTransformer(img_size=spec['image'], **spec['vit'])
        final = p.embed_dim + p.PRED_OUT_NUM_CONSTANT
        heads = nn.ModuleDict({task: MLPHead(final, n) for task, n in INVPT_TASKS.items()})
        model = TransformerNet(p, backbone, p.backbone_channels, heads)
        randomise(model, SEED)
        model.eval()

        image = torch.randn(2, 3, height, width, generator=torch.Generator().manual_seed(SEED))
        stride4: Dict[str, torch.Tensor] = {}
        hooks = [head.register_forward_hook(
            lambda module, args, output, task=task: stride4.__setitem__(task, output))
            for task, head in heads.items()]
        with torch.no_grad():
            task_features, inter = model.multi_task_decoder(model.backbone(image)[1])
            for task in INVPT_TASKS:
                heads[task](task_features[task])
        for hook in hooks:
            hook.remove()

        optimizer = torch.optim.Adam(model.parameters(), lr=2e-5, weight_decay=1e-6)
        scheduler = PolynomialLR(optimizer, 40000)
        ddp_state = {'module.' + key: value for key, value in model.state_dict().items()}
        os.makedirs(out_dir, exist_ok=True)
        torch.save({'optimizer': optimizer.state_dict(), 'scheduler': scheduler.state_dict(),
                    'model': ddp_state, 'epoch': 0, 'iter_count': 0},
                   osp.join(out_dir, f'invpt_{size}_nyud_released.pth'))
        torch.save(dict(input=image, commit=INVPT_COMMIT,
                        final={INVPT_TO_MMMTL[t]: v for t, v in stride4.items()},
                        inter={INVPT_TO_MMMTL[t]: v for t, v in inter.items()}),
                   osp.join(out_dir, f'invpt_{size}_nyud_reference.pth'))
        print(f'InvPT: {len(ddp_state)} tensors from commit {INVPT_COMMIT[:10]} -> {out_dir}')


def _package(name: str, path: str) -> None:
    """Make the modules of ``path`` importable as ``name.<module>`` without running its
    ``__init__.py`` (the authors' package imports pytorch_lightning and CUDA ops)."""
    package = types.ModuleType(name)
    package.__path__ = [path]
    sys.modules[name] = package


def legacy_multihead_attention(attn: nn.MultiheadAttention, query, key, value, **kwargs):
    """``nn.MultiheadAttention.forward`` as torch 1.7 computed it (sequence-first, no
    masks): keys and values are reshaped with ``view(-1, batch * heads, head_dim)``,
    which newer torch refuses when key and query batches differ, as in DeMT's task query
    (query (N, HW, C), key (N, T*HW, C): the keys become the T tasks of each pixel)."""
    tgt_len, batch, embed = query.shape
    heads = attn.num_heads
    head_dim = embed // heads
    w_q, w_k, w_v = attn.in_proj_weight.chunk(3)
    b_q, b_k, b_v = attn.in_proj_bias.chunk(3)
    q = F.linear(query, w_q, b_q) * head_dim**-0.5
    k = F.linear(key, w_k, b_k)
    v = F.linear(value, w_v, b_v)
    q = q.contiguous().view(tgt_len, batch * heads, head_dim).transpose(0, 1)
    k = k.contiguous().view(-1, batch * heads, head_dim).transpose(0, 1)
    v = v.contiguous().view(-1, batch * heads, head_dim).transpose(0, 1)
    weights = torch.bmm(q, k.transpose(1, 2)).softmax(dim=-1)
    out = torch.bmm(weights, v).transpose(0, 1).contiguous().view(tgt_len, batch, embed)
    return attn.out_proj(out), None


@contextmanager
def lightning_callback_class() -> Iterator[type]:
    """A class pickled by reference as PyTorch Lightning's ModelCheckpoint: PL 1.1 keys
    the callback states of its checkpoints by the callback's class."""
    names = ['pytorch_lightning', 'pytorch_lightning.callbacks',
             'pytorch_lightning.callbacks.model_checkpoint']
    modules = [types.ModuleType(name) for name in names]
    callback = type('ModelCheckpoint', (), {'__module__': names[-1]})
    modules[-1].ModelCheckpoint = callback
    saved = {name: sys.modules.get(name) for name in names}
    sys.modules.update(zip(names, modules))
    try:
        yield callback
    finally:
        for name, module in saved.items():
            if module is None:
                del sys.modules[name]
            else:
                sys.modules[name] = module


def make_demt(repo: str, out_dir: str, allow_other: bool, size: str = 'tiny') -> None:
    spec = DEMT_SIZES[size]
    with exported(repo, DEMT_COMMIT, 'src', allow_other) as root:
        head_file = osp.join(root, 'model', 'heads', 'demt_head.py')
        source = open(head_file).read()
        if source.count('dim_ = 256') != 1:
            raise SystemExit(f'{head_file}: expected one `dim_ = 256` (the head width).')
        with open(head_file, 'w') as handle:  # the exported copy: reduced width
            handle.write(source.replace('dim_ = 256', f"dim_ = {spec['head_width']}"))
        _package('demt_heads', osp.join(root, 'model', 'heads'))
        _package('demt_backbones', osp.join(root, 'model', 'backbones'))
        try:
            from demt_backbones.swin import SwinTransformer
            from demt_heads.demt_head import DemtHead
        finally:
            for name in [n for n in sys.modules if n.startswith(('demt_heads', 'demt_backbones'))]:
                del sys.modules[name]

        torch.manual_seed(SEED)
        model = nn.Module()  # the LightningModule's attribute names: backbone, head
        model.backbone = SwinTransformer(**spec['swin'])
        planes = {i: spec['swin']['embed_dims'] * 2**i for i in range(4)}
        model.head = DemtHead(tasks=list(DEMT_TASKS), in_index=[0, 1, 2, 3],
                              task_channel_mapping={t: {'final': n} for t, n in DEMT_TASKS.items()},
                              idx_to_planes=planes)
        for module in model.head.modules():
            if isinstance(module, nn.MultiheadAttention):
                module.forward = types.MethodType(legacy_multihead_attention, module)
        randomise(model, SEED)
        model.eval()

        image = torch.randn(1, 3, *spec['image'], generator=torch.Generator().manual_seed(SEED))
        stride4: Dict[str, torch.Tensor] = {}
        hooks = [conv.register_forward_hook(
            lambda module, args, output, task=task: stride4.__setitem__(task, output))
            for task, conv in model.head.final_logits.items()]
        with torch.no_grad():
            model.head(model.backbone(image), image.shape[-2:])
        for hook in hooks:
            hook.remove()

        state = model.state_dict()
        # PL 1.1 metrics kept their states in the module's state dict (the released file
        # may hold them); the converter drops them.
        state['metrics_dict.semseg.intersection'] = torch.zeros(DEMT_TASKS['semseg'])
        state['metrics_dict.semseg.union'] = torch.zeros(DEMT_TASKS['semseg'])
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9,
                                    weight_decay=5e-4)
        scheduler = PolynomialLR(optimizer, 40000)
        with lightning_callback_class() as callback:
            torch.save({'epoch': 0, 'global_step': 0, 'pytorch-lightning_version': '1.1.8',
                        'callbacks': {callback: {'monitor': None, 'best_model_score': None,
                                                 'best_model_path': '', 'dirpath': 'logger'}},
                        'optimizer_states': [optimizer.state_dict()],
                        'lr_schedulers': [scheduler.state_dict()], 'state_dict': state},
                       osp.join(out_dir, f'demt_{size}_nyud_released.pth'))
        torch.save(dict(input=image, commit=DEMT_COMMIT, inter={},
                        final={INVPT_TO_MMMTL[t]: v for t, v in stride4.items()}),
                   osp.join(out_dir, f'demt_{size}_nyud_reference.pth'))
        print(f'DeMT: {len(state)} tensors from commit {DEMT_COMMIT[:10]} -> {out_dir}')


def main() -> None:
    args = parse_args()
    make_invpt(args.invpt, args.out_dir, args.allow_other_commit, args.size)
    make_demt(args.demt, args.out_dir, args.allow_other_commit, args.size)


if __name__ == '__main__':
    main()
