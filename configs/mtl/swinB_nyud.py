# Short name of mtl_swinB_40k_nyud-425x560.py: the swinB multi-task baseline on NYUD-v2
# (the Table 4 teacher; paper Table 1), with a work dir of its own:
#   bash tools/dist_train.sh configs/mtl/swinB_nyud.py 8    # -> work_dirs/mtl/swinB_nyud/
_base_ = ['./mtl_swinB_40k_nyud-425x560.py']
work_dir = './work_dirs/mtl/swinB_nyud'
