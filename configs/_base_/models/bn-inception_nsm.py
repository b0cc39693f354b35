# Deep metric learning with NormSoftmax (paper Sec. 5.3, App. D.5, F.1):
# BN-Inception pre-trained on ImageNet, global average pooling, one linear
# layer to the embedding (64-d here; the configs set embed_dim and the
# number of training classes), and a bias-free cosine classifier whose
# cosines are divided by the temperature 0.05 (Zhai & Wu, 2019). The DSB
# bank stores the embedding, and every prediction carries it for
# RetrievalMetric(embedding_key='embedding').
#
# The backbone starts from the ImageNet checkpoint of the PyTorch port of
# the Caffe BN-Inception (bn_inception-52deb4733.pth, from Cadene's
# pretrained-models.pytorch, the weights the SoftTriple code loads); put it
# at the path below or change `checkpoint`. The checkpoint takes BGR
# images in [0, 255] minus the Caffe mean, std 1.
data_preprocessor = dict(
    type='ClsDataPreprocessor',
    mean=[104., 117., 128.],
    std=[1., 1., 1.],
    to_rgb=False)  # mmcv loads image files as BGR already

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='BNInception',
        # Batch-norm statistics frozen (SoftTriple's --freeze_BN).
        norm_eval=True,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/bn_inception-52deb4733.pth')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='CosineClsHead',
        num_classes=100,
        in_channels=1024,
        embed_dim=64,
        loss=dict(type='NormSoftmaxLoss', temperature=0.05)))
