# Deconfound-TDE (Tang et al., NeurIPS 2020) on Train-GLT of MSCOCO-GLT, as
# in IFL's benchmark that paper Table 11 quotes: a 2-slice causal normalised
# classifier (tau 16, gamma 1/32) trained with cross-entropy, and at test
# time the moving-average feature direction (momentum 0.995) removed with
# alpha 1, the values of the benchmark's COCO config and TDE trainer.
_base_ = ['../_base_/table11_resnext50_mscoco-glt.py']

model = dict(
    head=dict(
        type='TDEClsHead', num_head=2, tau=16.0, alpha=1.0, gamma=0.03125,
        momentum=0.995))
