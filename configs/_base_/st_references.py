# Single-task reference numbers for Delta_m, as published in the KDAM paper
# (ICCV 2023): Table 1 (NYUD-v2), Table 3 (PASCAL-Context) and Table 4
# (single-task Swin-L / Swin-B teachers on NYUD-v2). Use one in a config as
#   val_evaluator = dict(type='MultiTaskMetric', ..., st_reference={{_base_.nyud_swinT_st}})
# Note: the paper's Swin-T single-task depth / normal / edge cells repeat the
# HRNet18 ones; we ship them as printed.
nyud_hrnet18_st = {'semseg/mIoU': 38.02, 'depth/rmse': 0.6104, 'normal/mean': 20.94,
                   'edge/odsF': 76.22}
nyud_swinT_st = {'semseg/mIoU': 42.92, 'depth/rmse': 0.6104, 'normal/mean': 20.94,
                 'edge/odsF': 76.22}
nyud_swinS_st = {'semseg/mIoU': 48.92, 'depth/rmse': 0.5804, 'normal/mean': 20.94,
                 'edge/odsF': 77.20}
nyud_swinB_st = {'semseg/mIoU': 53.01, 'depth/rmse': 0.552, 'normal/mean': 19.34,
                 'edge/odsF': 78.00}
nyud_swinL_st = {'semseg/mIoU': 56.46, 'depth/rmse': 0.508, 'normal/mean': 19.38,
                 'edge/odsF': 78.8}
pascal_hrnet18_st = {'semseg/mIoU': 62.23, 'human_parts/mIoU': 61.66, 'saliency/maxF': 85.08,
                     'normal/mean': 13.69, 'edge/odsF': 73.06}
pascal_swinT_st = {'semseg/mIoU': 67.81, 'human_parts/mIoU': 56.32, 'saliency/maxF': 82.18,
                   'normal/mean': 14.81, 'edge/odsF': 70.90}
pascal_swinS_st = {'semseg/mIoU': 70.83, 'human_parts/mIoU': 59.71, 'saliency/maxF': 82.64,
                   'normal/mean': 15.13, 'edge/odsF': 71.20}
