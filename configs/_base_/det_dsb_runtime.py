# DSB on top of any mmdet config: import mmdsb.det (DSB box heads, the DSB
# RetinaHead, EQLv2, the digit detection set) and run the dynamic
# re-weighting framework. The head must also become a DSB head, e.g.
#   model = dict(roi_head=dict(bbox_head=dict(type='DSBShared2FCBBoxHead')))
_base_ = ['./det_dsb_hook.py']

custom_imports = dict(imports=['mmdsb.det'], allow_failed_imports=False)
