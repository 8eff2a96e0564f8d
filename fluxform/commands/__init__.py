"""Click command groups that cli.py registers (each module owns one family of commands)."""
