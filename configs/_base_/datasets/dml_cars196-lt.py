# Long-tailed Cars196 (paper App. D.5.2, Fig. 8b, Table 8): training class i
# (0-based, M = 98) keeps floor(N_i * mu ** (i / (1 - M))) of its N_i
# images, chosen with seed 0; the test classes 99-196 are untouched.
# The paper uses mu = 10, 20 and 50. A config inheriting this piece
# changes mu with
#   train_dataloader = dict(dataset=dict(imbalance_factor=50))
# (`imbalance_factor` below only names the default).
_base_ = ['./dml_cars196.py']

imbalance_factor = 10
train_dataloader = dict(
    dataset=dict(imbalance_factor=imbalance_factor, seed=0))
