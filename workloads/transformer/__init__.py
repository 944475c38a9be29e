"""Dense and grouped-query-attention transformers: graph blocks and NumPy references."""
