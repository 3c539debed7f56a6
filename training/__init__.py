"""Adapting the dense retriever to the user corpus."""
