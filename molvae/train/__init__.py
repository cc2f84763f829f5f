"""Training: the configuration, the run's setup, the loop with its schedules, run folders, fine-tuning, multi-process training, and the latent prior fitted after training."""
