// Placeholder; replaced by the store implementation.
