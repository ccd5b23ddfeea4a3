# Short name of mtl_swinT_40k_pascal-512x512.py: the swinT multi-task baseline on PASCAL-Context
# (paper Table 3), with a work dir of its own:
#   bash tools/dist_train.sh configs/mtl/swinT_pascal.py 8    # -> work_dirs/mtl/swinT_pascal/
_base_ = ['./mtl_swinT_40k_pascal-512x512.py']
work_dir = './work_dirs/mtl/swinT_pascal'
