"""Where work runs: worker processes and threads, torch devices, progress bars, on-disk caches, and
stopping cleanly on SIGINT/SIGTERM."""
