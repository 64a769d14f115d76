"""Dataset: source readers, crops, masks, splits, the TFDS builder and the loader."""
