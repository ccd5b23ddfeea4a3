"""Draw the KDAM method diagram of docs/distillation.md.

Teacher and student share the input; per task, both logits become an [R, K]
probability matrix whose rows give the inter-task term (paper Eq. 5) and whose
columns give the intra-task term (Eq. 6), in the three modes of mmmtl.

Example:
    python tools/misc/draw_method_diagram.py --out docs/images/kdam_method.png
"""
import argparse

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, Rectangle  # noqa: E402

MODES = (
    ('channel (semseg, parts)', 'pixels of the batch', 'classes'),
    ('binary (edge, saliency)', 'pixels of the batch', '[σ(x), 1 − σ(x)]'),
    ('spatial (depth, normals)', 'maps (image × channel)', 'locations'),
)


def box(ax, x, y, w, h, text, color):
    ax.add_patch(Rectangle((x, y), w, h, facecolor=color, edgecolor='black', lw=1))
    ax.text(x + w / 2, y + h / 2, text, ha='center', va='center', fontsize=9)


def arrow(ax, start, end, text=''):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle='->', mutation_scale=12, lw=1))
    if text:
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.15, text, ha='center',
                fontsize=8)


def draw(out: str) -> None:
    fig, ax = plt.subplots(figsize=(10, 4.6), dpi=100)
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 4.6)
    ax.axis('off')
    box(ax, 0.1, 1.9, 1.2, 0.8, 'image', '#eeeeee')
    box(ax, 1.9, 3.0, 2.0, 0.9, 'MT teacher\n(frozen, eval)', '#cfe2f3')
    box(ax, 1.9, 0.7, 2.0, 0.9, 'MT student', '#d9ead3')
    arrow(ax, (1.3, 2.4), (1.9, 3.4))
    arrow(ax, (1.3, 2.2), (1.9, 1.1))
    box(ax, 4.5, 3.0, 1.5, 0.9, 'logits per task\n/ τ → P_T', '#cfe2f3')
    box(ax, 4.5, 0.7, 1.5, 0.9, 'logits per task\n/ τ → P_S', '#d9ead3')
    arrow(ax, (3.9, 3.45), (4.5, 3.45))
    arrow(ax, (3.9, 1.15), (4.5, 1.15))
    arrow(ax, (2.9, 0.7), (2.9, 0.15))
    ax.text(3.0, 0.2, 'task losses vs gt (α)', fontsize=8)
    # the [R, K] matrix
    left, bottom, width, height = 6.7, 1.0, 1.6, 2.4
    for row in range(6):
        for col in range(4):
            ax.add_patch(Rectangle((left + col * width / 4, bottom + row * height / 6),
                                   width / 4, height / 6, facecolor='white',
                                   edgecolor='#999999', lw=0.5))
    ax.add_patch(Rectangle((left, bottom + 4 * height / 6), width, height / 6, fill=False,
                           edgecolor='#cc0000', lw=2))
    ax.add_patch(Rectangle((left + width / 4, bottom), width / 4, height, fill=False,
                           edgecolor='#0055cc', lw=2))
    ax.text(left + width / 2, bottom + height + 0.15, '[R, K] per task',
            ha='center', fontsize=9)
    ax.text(left - 0.1, bottom + 4.5 * height / 6, 'row r', ha='right', va='center',
            fontsize=8, color='#cc0000')
    ax.text(left + 1.5 * width / 4, bottom - 0.15, 'column k', ha='center', va='top',
            fontsize=8, color='#0055cc')
    arrow(ax, (6.0, 3.45), (6.7, 2.6))
    arrow(ax, (6.0, 1.15), (6.7, 1.8))
    ax.text(8.9, 3.9, 'inter = mean_r D_CS(P_S[r, :], P_T[r, :])', color='#cc0000',
            fontsize=9)
    ax.text(8.9, 3.55, 'intra = mean_k D_CS(P_S[:, k], P_T[:, k])', color='#0055cc',
            fontsize=9)
    ax.text(8.9, 3.15, 'L = α L_mt + β Σ_n w_n (inter + intra)', fontsize=9)
    ax.text(8.9, 2.6, 'mode: rows R / columns K', fontsize=9, weight='bold')
    for index, (mode, rows, cols) in enumerate(MODES):
        ax.text(8.9, 2.2 - index * 0.5, f'{mode}:\n  {rows} / {cols}', fontsize=8,
                va='center')
    ax.text(8.9, 0.5, 'rows and columns span the global batch under DDP', fontsize=8,
            style='italic')
    ax.set_xlim(0, 12.2)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', required=True, help='output PNG')
    args = parser.parse_args()
    draw(args.out)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
