# Short name of mtl_swinT_40k_nyud-425x560.py: the swinT multi-task baseline on NYUD-v2
# (paper Table 1), with a work dir of its own:
#   bash tools/dist_train.sh configs/mtl/swinT_nyud.py 8    # -> work_dirs/mtl/swinT_nyud/
_base_ = ['./mtl_swinT_40k_nyud-425x560.py']
work_dir = './work_dirs/mtl/swinT_nyud'
