from typing import Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule

from mmmtl.registry import MODELS


@MODELS.register_module()
class TimmNCHWBackbone(BaseModule):
    """Any ``timm`` model with ``features_only=True`` as a backbone, NCHW outputs.

    Unlike mmseg's ``TIMMBackbone`` it returns channels-first maps also for
    timm models whose features are NHWC, selects levels with ``out_indices``
    and tells its ``out_channels``.

    Weights are never downloaded here (``pretrained=False``); load them with
    ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix=...)``.

    Args:
        model_name: timm model name, e.g. ``'resnet18'``, ``'convnext_tiny'``.
        out_indices: Feature levels to return.
        in_channels: Input channels.
        output_nchw: Convert NHWC feature maps (some timm transformers) to
            NCHW.
        final_norm: Apply the model's final norm to the last returned map
            only (the plain-ViT layout of InvPT / DPT: intermediate blocks
            un-normalised, the deepest one normalised). Needs a model with
            ``forward_intermediates`` and a ``norm`` over channels (timm's
            ViT family); the norm is kept, the classifier is not built.
        init_cfg: Initialisation config.
        **kwargs: Passed to ``timm.create_model``.
    """

    def __init__(self, model_name: str, out_indices: Sequence[int] = (0, 1, 2, 3),
                 in_channels: int = 3, output_nchw: bool = True, final_norm: bool = False,
                 init_cfg: Optional[dict] = None, **kwargs) -> None:
        super().__init__(init_cfg=init_cfg)
        import timm
        if model_name not in timm.list_models():
            raise KeyError(f'TimmNCHWBackbone: unknown timm model {model_name!r}.')
        self.final_norm = final_norm
        if final_norm:
            from timm.models._features import FeatureGetterNet
            model = timm.create_model(model_name, pretrained=False, num_classes=0,
                                      in_chans=in_channels, **kwargs)
            if not (hasattr(model, 'forward_intermediates')
                    and isinstance(getattr(model, 'norm', None), torch.nn.LayerNorm)):
                raise ValueError(f'TimmNCHWBackbone: final_norm needs a timm model with '
                                 f'forward_intermediates and a LayerNorm `norm`; {model_name!r} '
                                 'has not.')
            # prune=False keeps the final norm (timm drops it from un-normalised features).
            self.timm_model = FeatureGetterNet(model, out_indices=tuple(out_indices),
                                               norm=False, prune=False)
        else:
            self.timm_model = timm.create_model(
                model_name, pretrained=False, features_only=True, in_chans=in_channels,
                out_indices=tuple(out_indices), **kwargs)
        self.out_channels = list(self.timm_model.feature_info.channels())
        self.output_nchw = output_nchw

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """(N, 3, H, W) -> tuple of (N, C_i, H_i, W_i) feature maps."""
        feats = list(self.timm_model(x))
        if self.final_norm:  # NCHW (getter output) -> norm over channels -> NCHW
            norm = self.timm_model.model.norm
            feats[-1] = norm(feats[-1].permute(0, 2, 3, 1)).permute(0, 3, 1, 2).contiguous()
        if self.output_nchw:
            feats = [
                f.permute(0, 3, 1, 2).contiguous()
                if f.shape[-1] == c and f.shape[1] != c else f
                for f, c in zip(feats, self.out_channels)
            ]
        return tuple(feats)
