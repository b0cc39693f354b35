"""Compatibility fixes for the pinned OpenMMLab and PyTorch versions."""
