# Short name of mtl_hrnet18_40k_nyud-425x560.py: the hrnet18 multi-task baseline on NYUD-v2
# (paper Table 1), with a work dir of its own:
#   bash tools/dist_train.sh configs/mtl/hrnet18_nyud.py 8    # -> work_dirs/mtl/hrnet18_nyud/
_base_ = ['./mtl_hrnet18_40k_nyud-425x560.py']
work_dir = './work_dirs/mtl/hrnet18_nyud'
