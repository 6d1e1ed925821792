"""Weights: mapping tables, matching Keras variables to TFLite tensors, alignment, transplant."""
