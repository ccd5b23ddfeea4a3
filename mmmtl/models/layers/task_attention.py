"""DeMT's task-aware transformer blocks: attention across the tasks of a pixel."""
import torch
import torch.nn as nn
from torch import Tensor


class TaskAttention(nn.Module):
    """Multi-head attention whose tokens are the task features of one pixel.

    Every pixel is one sequence: its queries attend over its keys / values
    (one token per task). Parameters and outputs are those of
    ``nn.MultiheadAttention`` (query / key / value / output projections with
    bias), but the key and value projections act on the query side: with
    ``q_h`` a head's projected query and ``x_s`` the inputs,
    ``q_h . (W_k x_s + b_k) = (W_k^T q_h) . x_s + q_h . b_k`` and
    ``sum_s a_s (W_v x_s + b_v) = W_v (sum_s a_s x_s) + b_v``. A task query
    (one query, T keys) then costs four C x C projections per pixel instead of
    2 + 2T.

    Args:
        embed_dims: Token channels C (divisible by ``num_heads``).
        num_heads: Attention heads.

    Shapes: query (B, Tq, C), key_value (B, Tk, C) -> (B, Tq, C), where B
    runs over the pixels of the batch.
    """

    def __init__(self, embed_dims: int, num_heads: int) -> None:
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f'TaskAttention: embed_dims {embed_dims} is not divisible by '
                             f'num_heads {num_heads}.')
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.head_dims = embed_dims // num_heads
        self.q_proj = nn.Linear(embed_dims, embed_dims)
        self.k_proj = nn.Linear(embed_dims, embed_dims)
        self.v_proj = nn.Linear(embed_dims, embed_dims)
        self.out_proj = nn.Linear(embed_dims, embed_dims)
        for proj in (self.q_proj, self.k_proj, self.v_proj):  # as nn.MultiheadAttention
            nn.init.xavier_uniform_(proj.weight)
            nn.init.zeros_(proj.bias)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, query: Tensor, key_value: Tensor) -> Tensor:
        batch, num_queries, _ = query.shape
        heads, head_dims = self.num_heads, self.head_dims
        q = self.q_proj(query).view(batch, num_queries, heads, head_dims) * head_dims**-0.5
        # (B, Tq, heads, C): the key projection moved onto the query
        q_keys = torch.einsum('bqhd,hdc->bqhc', q,
                              self.k_proj.weight.view(heads, head_dims, self.embed_dims))
        # q . b_k is the same for every key (it cancels in the softmax, as in
        # nn.MultiheadAttention); kept so that every parameter is in the graph.
        key_bias = torch.einsum('bqhd,hd->bhq', q, self.k_proj.bias.view(heads, head_dims))
        scores = torch.einsum('bqhc,bkc->bhqk', q_keys, key_value) + key_bias.unsqueeze(-1)
        mixed = torch.einsum('bhqk,bkc->bqhc', scores.softmax(dim=-1), key_value)
        values = torch.einsum('bqhc,hdc->bqhd', mixed,
                              self.v_proj.weight.view(heads, head_dims, self.embed_dims))
        values = values + self.v_proj.bias.view(heads, head_dims)
        return self.out_proj(values.reshape(batch, num_queries, self.embed_dims))


class TaskInteractionBlock(nn.Module):
    """Self-attention across all tasks' deformed features, then Linear -> LN.

    Args:
        embed_dims: Token channels C.
        num_heads: Attention heads.
        across_tasks: ``True``: every task token attends over the T task
            tokens of its pixel (the paper's task interaction). ``False``:
            what the authors' released code computes for one image: their
            ``nn.MultiheadAttention`` reads (N, L, C) as sequence-first, so
            each token attends over the N images of the batch at its position;
            with one image every token is a sequence of one: the softmax over
            its one key is 1 and the block is the value and output
            projections, ``out_proj(v_proj(x))`` (the query and key
            projections stay in the graph, with zero gradient, as in the
            authors' model). For released DeMT weights.

    Shapes: (B, T, C) -> task-interacted features (B, T, C).
    """

    def __init__(self, embed_dims: int, num_heads: int, across_tasks: bool = True) -> None:
        super().__init__()
        self.across_tasks = across_tasks
        self.attn = TaskAttention(embed_dims, num_heads)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.norm = nn.LayerNorm(embed_dims)

    def forward(self, tokens: Tensor) -> Tensor:
        if self.across_tasks:
            mixed = self.attn(tokens, tokens)
        else:  # every token attends to itself only
            single = tokens.reshape(-1, 1, tokens.shape[-1])
            mixed = self.attn(single, single).view_as(tokens)
        return self.norm(self.proj(mixed))


class TaskQueryBlock(nn.Module):
    """One task's deformed features query the task-interacted features.

    ``x + LN(Linear(attn(x, interacted)))``.

    Shapes: x (B, 1, C), interacted (B, T, C) -> (B, 1, C).
    """

    def __init__(self, embed_dims: int, num_heads: int) -> None:
        super().__init__()
        self.attn = TaskAttention(embed_dims, num_heads)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.norm = nn.LayerNorm(embed_dims)

    def forward(self, x: Tensor, interacted: Tensor) -> Tensor:
        return x + self.norm(self.proj(self.attn(x, interacted)))
