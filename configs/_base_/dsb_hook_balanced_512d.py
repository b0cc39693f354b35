# dsb_hook_balanced.py for 512-d embeddings (metric learning): the bank
# stores the whole embedding instead of pooling it to 64 channels. It owns
# custom_hooks, like dsb_hook.py: inherit one of the DSB pieces.
custom_hooks = [
    dict(
        type='DSBHook',
        weighter=dict(
            type='SemanticScaleWeighter', alpha=1.0, bank_dim=512),
        warmup_epochs=5),
]
