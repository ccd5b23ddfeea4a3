"""Draw the architecture overview of docs/architecture.md.

Data flow top to bottom: the dataset and the transforms (every per-pixel map
moved by its own rule), the multi-task segmentor (backbone, neck, one
multi-task decoder), its task losses and predictions, and the KDAM distiller
with the frozen teacher; the task table on the right says what each task is.

Example:
    python tools/misc/draw_architecture.py --out docs/images/architecture.png
"""
import argparse
from typing import Tuple

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

DATA, MODEL, DECODER, LOSS, KD, TABLE = ('#eeeeee', '#d9ead3', '#b6d7a8', '#fce5cd', '#cfe2f3',
                                          '#fff2cc')
TITLE_SIZE, BODY_SIZE = 12.5, 11


def box(ax, xy: Tuple[float, float], size: Tuple[float, float], title: str, body: str = '',
        color: str = DATA, dashed: bool = False) -> None:
    """A rounded box with a bold title and smaller body text, centred."""
    (x, y), (w, h) = xy, size
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle='round,pad=0.02,rounding_size=0.12',
                                facecolor=color, edgecolor='black', lw=1.2,
                                linestyle='--' if dashed else '-'))
    if body:
        ax.text(x + w / 2, y + h - 0.3, title, ha='center', va='center', fontsize=TITLE_SIZE,
                weight='bold')
        ax.text(x + w / 2, y + (h - 0.5) / 2, body, ha='center', va='center',
                fontsize=BODY_SIZE, linespacing=1.35)
    else:
        ax.text(x + w / 2, y + h / 2, title, ha='center', va='center', fontsize=TITLE_SIZE,
                weight='bold')


def arrow(ax, start: Tuple[float, float], end: Tuple[float, float], text: str = '',
          dashed: bool = False, color: str = 'black') -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle='-|>', mutation_scale=16, lw=1.4,
                                 color=color, linestyle='--' if dashed else '-'))
    if text:
        ax.text((start[0] + end[0]) / 2 + 0.1, (start[1] + end[1]) / 2, text, fontsize=BODY_SIZE,
                ha='left', va='center', style='italic', color=color)


def draw(out: str) -> None:
    fig, ax = plt.subplots(figsize=(13, 8.32), dpi=100)
    ax.set_xlim(0, 15)
    ax.set_ylim(0, 9.6)
    ax.axis('off')

    # 1. data: dataset -> transforms -> data sample -> preprocessor
    row = 8.1
    box(ax, (0.2, row), (2.6, 1.3), 'Dataset', 'NYUD-v2 / PASCAL-Context\none map per task')
    box(ax, (3.3, row), (3.0, 1.3), 'Transforms', 'resize · crop · flip · pad\neach map by its '
        'AlignedField')
    box(ax, (6.8, row), (2.9, 1.3), 'PackMultiTaskInputs', 'MultiTaskDataSample\ngt_<field> '
        '(C, H, W)')
    box(ax, (10.2, row), (2.6, 1.3), 'Data preprocessor', 'normalise, pad batch')
    for x0, x1 in ((2.8, 3.3), (6.3, 6.8), (9.7, 10.2)):
        arrow(ax, (x0, row + 0.65), (x1, row + 0.65))

    # 2. the student: MultiTaskEncoderDecoder = backbone (+ neck) + decoder
    ax.add_patch(FancyBboxPatch((0.2, 4.3), 10.4, 3.1, boxstyle='round,pad=0.02',
                                facecolor='#f6fbf4', edgecolor='#38761d', lw=1.5))
    ax.text(0.4, 7.15, 'MultiTaskEncoderDecoder (the student; also the teacher)',
            fontsize=TITLE_SIZE, weight='bold', color='#38761d', va='center')
    box(ax, (0.5, 4.9), (2.0, 1.7), 'Backbone', 'Swin / HRNet\n/ ViT', MODEL)
    box(ax, (3.0, 4.9), (1.8, 1.7), 'Neck', '(optional)\nmulti-scale\nconcat', MODEL)
    box(ax, (5.3, 4.6), (5.0, 2.3), 'Multi-task decoder',
        'BaseMultiTaskDecoder.forward_with_aux(feats)\n-> {task: logits}, {aux: {task: logits}}\n'
        'IndependentHeadsDecoder (baseline)\nATRCDecoder · DeMTDecoder · InvPTDecoder', DECODER)
    arrow(ax, (2.5, 5.75), (3.0, 5.75))
    arrow(ax, (4.8, 5.75), (5.3, 5.75))
    # inputs: from the preprocessor over the student's frame down into the backbone
    ax.plot([11.5, 11.5, 1.5], [row, 7.7, 7.7], color='black', lw=1.4)
    arrow(ax, (1.5, 7.7), (1.5, 6.6))
    ax.text(6.0, 7.85, 'inputs (N, 3, H, W) and data samples', fontsize=BODY_SIZE,
            style='italic', ha='center', va='center')

    # 3. what the logits become
    box(ax, (11.1, 5.95), (3.7, 1.45), 'Task losses', 'TaskLoss per task vs gt_<field>\n'
        '+ auxiliary outputs', LOSS)
    box(ax, (11.1, 4.3), (3.7, 1.45), 'Predictions', 'kind.predict -> pred_<field>\n'
        'metrics · visualiser · files', LOSS)
    arrow(ax, (10.3, 6.2), (11.1, 6.6))
    arrow(ax, (10.3, 5.3), (11.1, 5.0))

    # 4. distillation
    ax.add_patch(FancyBboxPatch((0.2, 0.2), 10.4, 3.5, boxstyle='round,pad=0.02',
                                facecolor='#f3f7fc', edgecolor='#0b5394', lw=1.5))
    ax.text(0.4, 3.45, 'KDAMDistiller (training only; validation runs the student)',
            fontsize=TITLE_SIZE, weight='bold', color='#0b5394', va='center')
    box(ax, (0.5, 0.6), (3.6, 2.3), 'Teacher', 'a trained multi-task model\n'
        'frozen, eval mode, no_grad\n(not in state_dict /\noptimizer)', KD)
    box(ax, (4.7, 0.6), (5.6, 2.3), 'Distillation losses (per task)',
        'CS divergence: inter (rows) + intra (columns)\nKL · DIST, same interface:\n'
        '(student, teacher, valid mask) -> {term: value}\nmask = kind.valid_mask(gt)', KD)
    arrow(ax, (4.1, 1.75), (4.7, 1.75))
    arrow(ax, (7.8, 4.6), (7.8, 2.9))
    ax.text(7.9, 4.1, 'student logits', fontsize=BODY_SIZE, style='italic', va='center')
    ax.text(5.0, 0.35, 'L = α · Σ task losses  +  β · Σ_n w_n · Σ terms', fontsize=BODY_SIZE,
            weight='bold', va='center')

    # 5. the task table
    box(ax, (11.1, 0.2), (3.7, 3.7), 'Task table',
        'mmmtl/tasks\nTaskSpec: name, field, kind,\nout_channels, evaluator\n\n'
        'TaskKind: label · binary\n· depth · normal:\nto tensor, rescale, flip,\n'
        'valid mask, predict,\ndraw, save\n\nasked by transforms, losses,\n'
        'predictions, KD masks', TABLE, dashed=True)
    arrow(ax, (12.95, 3.9), (12.95, 4.3), dashed=True, color='#7f6000')
    arrow(ax, (11.1, 2.0), (10.3, 2.0), dashed=True, color='#7f6000')
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', required=True, help='output PNG')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    draw(args.out)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
