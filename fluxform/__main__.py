"""`python -m fluxform ...`, the same as the `fluxform` command."""

from fluxform.cli import main

main()
