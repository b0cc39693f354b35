# DSB-BLSoftmax + IFL of paper Table 11: BLSoftmax + IFL whose
# classification term carries the DSB semantic-scale weights (the centre
# term stays unweighted), on Train-GLT of MSCOCO-GLT.
_base_ = ['./bs-ifl_resnext50_mscoco-glt.py', '../_base_/dsb_hook.py']

model = dict(head=dict(type='DSBIFLLinearClsHead'))
