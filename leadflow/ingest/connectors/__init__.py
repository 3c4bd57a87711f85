"""Connectors: each turns a source's configuration into deliveries (one batch each)."""
