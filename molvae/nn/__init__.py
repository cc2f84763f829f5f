"""Pure torch: the conditional VAE's modules, the versioned checkpoint, and the latent codec (model, vocabulary,
scaler and device behind encode/decode/prepare/condition) that generation, search and diagnostics share."""
