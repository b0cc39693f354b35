"""DSB box heads and long-tailed detection losses for mmdet."""
