"""`orderpoc send-test-order`: registered here so cli.py stays thin (filled in by trace.py)."""
