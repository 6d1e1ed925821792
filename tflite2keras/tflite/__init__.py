"""The file: the bounds-checked flatbuffer reader, the parsed model, options, quantization, the object-API schema helper."""
