# CUB-200-2011 for deep metric learning (paper Sec. 5.3, App. D.5): classes
# 1-100 (5,864 images) train, classes 101-200 (5,924 images) test, all
# images of each class; the test images are retrieved among themselves.
# Expected layout (the release as downloaded):
#   data/CUB_200_2011/images.txt, image_class_labels.txt, classes.txt
#   data/CUB_200_2011/images/<class folder>/*.jpg
# 224x224 inputs: random resized crop and flip for training, short side
# 256 then a 224 centre crop for testing; batch size 32. Images are loaded
# as BGR; the model's data preprocessor converts them.
dataset_type = 'CUBRetrieval'
data_root = 'data/CUB_200_2011'

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=32,
    num_workers=4,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
test_dataloader = val_dataloader

# Recall@K and NMI on the embeddings of the test classes.
val_evaluator = dict(type='RetrievalMetric', embedding_key='embedding')
test_evaluator = val_evaluator
