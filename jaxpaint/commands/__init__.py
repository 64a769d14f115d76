"""Subcommands of the `jaxpaint` CLI; see jaxpaint/cli.py."""
