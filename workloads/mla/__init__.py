"""DeepSeek Multi-head Latent Attention: graph block (naive and absorbed) and NumPy references."""
