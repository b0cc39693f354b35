from .digits_lt import DigitsLT, long_tailed_counts

__all__ = ['DigitsLT', 'long_tailed_counts']
