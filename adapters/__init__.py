"""One module per outside system, each a small Protocol with a real client and a local sandbox."""
