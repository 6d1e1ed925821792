"""Writing files: export, custom-op rewrite, JSON, truncation."""
