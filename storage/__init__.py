"""Where Kontor keeps things: every Redis key of a phone (phones.py); requests and messages in SQL (models,
repository)."""
