"""The bit-exact golden model: number formats, compression tools and reference models."""
