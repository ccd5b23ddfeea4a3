# Short name of kdam_swinL-hrnet18_40k_pascal-512x512.py: KDAM, Swin-L teacher -> hrnet18 student on
# PASCAL-Context, paper Table 3. Train the teacher first, then this:
#   bash tools/dist_train.sh configs/mtl/swinL_pascal.py 8    # -> work_dirs/mtl/swinL_pascal/
#   bash tools/dist_train.sh configs/kdam/hrnet18_pascal.py 8    # -> work_dirs/kdam/hrnet18_pascal/
_base_ = ['./kdam_swinL-hrnet18_40k_pascal-512x512.py']
model = dict(
    teacher_cfg='configs/mtl/swinL_pascal.py',
    # the teacher run's work dir: the checkpoint its last_checkpoint file names
    teacher_ckpt='work_dirs/mtl/swinL_pascal')
work_dir = './work_dirs/kdam/hrnet18_pascal'
