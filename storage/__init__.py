"""Where Kontor keeps things: dialogs in Redis (sessions.py), requests and messages in SQL (models, repository)."""
