# Short name of mtl_hrnet18_40k_pascal-512x512.py: the hrnet18 multi-task baseline on PASCAL-Context
# (paper Table 3), with a work dir of its own:
#   bash tools/dist_train.sh configs/mtl/hrnet18_pascal.py 8    # -> work_dirs/mtl/hrnet18_pascal/
_base_ = ['./mtl_hrnet18_40k_pascal-512x512.py']
work_dir = './work_dirs/mtl/hrnet18_pascal'
