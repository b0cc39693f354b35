"""The three stages of the dynamic re-weighting framework (paper Sec. 4.2,
App. F.2, Algorithm 2)."""
from enum import IntEnum

__all__ = ['DSBStage']


class DSBStage(IntEnum):
    """What one training iteration does with the feature bank.

    An ``IntEnum``: stages compare in order and equal their numbers 1, 2, 3.
    """
    FILL = 1  # every batch enters the bank, nothing leaves; original loss
    SLIDE = 2  # each batch enters, as many of the oldest leave; original loss
    REWEIGHT = 3  # as SLIDE, then the bank's scales re-weight the loss

    def describe(self, size: int, capacity: int,
                 per_sample: bool = False) -> str:
        """One line for the log, given the bank's fill state (a FIFO bank,
        or a per-sample bank, where a sample's new feature replaces its
        own previous one)."""
        if self is DSBStage.FILL:
            return f'the bank fills ({size} of {capacity} samples)'
        if per_sample:
            filled = (f'the bank holds {size} of {capacity} samples, each '
                      'with its latest feature')
        else:
            filled = f'the bank is full ({capacity} samples)'
        if self is DSBStage.SLIDE:
            return filled + ('' if per_sample else
                             '; each batch replaces as many of the oldest')
        return filled + '; its semantic scales re-weight the loss'
