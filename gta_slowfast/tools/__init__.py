"""Command-line tools: ``python -m gta_slowfast.tools.<name> --help``."""
