"""The utility's desk: a separate web app where staff review flagged requests, decide, and read statistics."""
