"""Files in and out: the one molecule reader, the writers of molecules and tables, TOML settings, plots."""
