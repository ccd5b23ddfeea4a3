# Short name of mtl_swinL_40k_nyud-425x560.py: the swinL multi-task baseline on NYUD-v2
# (the KDAM teacher; paper Table 1), with a work dir of its own:
#   bash tools/dist_train.sh configs/mtl/swinL_nyud.py 8    # -> work_dirs/mtl/swinL_nyud/
_base_ = ['./mtl_swinL_40k_nyud-425x560.py']
work_dir = './work_dirs/mtl/swinL_nyud'
