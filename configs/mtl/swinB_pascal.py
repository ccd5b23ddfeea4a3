# Short name of mtl_swinB_40k_pascal-512x512.py: the swinB multi-task baseline on PASCAL-Context
# (the Table 4 teacher; paper Table 3), with a work dir of its own:
#   bash tools/dist_train.sh configs/mtl/swinB_pascal.py 8    # -> work_dirs/mtl/swinB_pascal/
_base_ = ['./mtl_swinB_40k_pascal-512x512.py']
work_dir = './work_dirs/mtl/swinB_pascal'
