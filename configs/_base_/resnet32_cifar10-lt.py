# ResNet-32 with a linear classifier on CIFAR-10-LT, the LDAM-DRW schedule
# (batch 128, lr 0.1 with 5 warm-up epochs, x0.01 at 160 and 180, 200
# epochs); the method configs set the imbalance ratio and the loss.
_base_ = [
    './models/resnet32_cifar.py',
    './datasets/cifar10-lt-r100.py',
    './schedules/cifar-lt_200e.py',
    './lt_runtime.py',
]

model = dict(head=dict(num_classes=10))
