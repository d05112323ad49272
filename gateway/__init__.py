"""Surgery Gateway: residents' email in, cases to neighbourhood teams, answers out."""

__version__ = "0.1.0"
