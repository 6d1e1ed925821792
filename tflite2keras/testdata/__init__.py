"""Models for tests and benchmarks: the MediaPipe corpus, the architecture suite, tiny models."""
