# Cross-entropy on Train-GLT of MSCOCO-GLT (paper Table 11 setting); also
# stage 1 (instance-balanced feature learning) of cRT and LWS.
_base_ = ['../_base_/table11_resnext50_mscoco-glt.py']
