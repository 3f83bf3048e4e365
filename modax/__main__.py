"""``python -m modax`` runs the command line."""

from modax.cli import main

main()
