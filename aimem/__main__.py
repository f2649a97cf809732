"""``python -m aimem`` runs the command line."""

from aimem.cli import main

if __name__ == "__main__":
    main()
