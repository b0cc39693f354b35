# Cars196 (Stanford Cars) for deep metric learning (paper Sec. 5.3, App.
# D.5): the 16,185 images of both official splits, classes 1-98 (8,054
# images) train, classes 99-196 (8,131 images) test. Expected layout (the
# devkit release, as mmpretrain's StanfordCars reads it):
#   data/stanford_cars/devkit/cars_train_annos.mat
#   data/stanford_cars/devkit/cars_test_annos_withlabels.mat
#   data/stanford_cars/cars_train/*.jpg, data/stanford_cars/cars_test/*.jpg
# (or data/stanford_cars/cars_annos.mat with car_ims/). Pipelines, loaders
# and metric as for CUB-200-2011.
_base_ = ['./dml_cub.py']

dataset_type = 'StanfordCarsRetrieval'
data_root = 'data/stanford_cars'
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
