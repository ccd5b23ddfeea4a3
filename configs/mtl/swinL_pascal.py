# Short name of mtl_swinL_40k_pascal-512x512.py: the swinL multi-task baseline on PASCAL-Context
# (the KDAM teacher; paper Table 3), with a work dir of its own:
#   bash tools/dist_train.sh configs/mtl/swinL_pascal.py 8    # -> work_dirs/mtl/swinL_pascal/
_base_ = ['./mtl_swinL_40k_pascal-512x512.py']
work_dir = './work_dirs/mtl/swinL_pascal'
