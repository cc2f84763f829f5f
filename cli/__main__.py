"""``python -m molvae_cli`` runs the command line (used by torchrun and by tests)."""

from molvae_cli.main import main

if __name__ == "__main__":
    main()
