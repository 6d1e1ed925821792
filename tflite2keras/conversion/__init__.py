"""Conversion: the graph walker, its context, quantized and streaming models."""
