"""Kontor's gateway: the Flask app, the RQ jobs, the CLI; the one package that wires all the others."""
