"""Command-line subcommands; see ``genomamba.cli``."""
