"""Detection datasets of mmdsb."""
