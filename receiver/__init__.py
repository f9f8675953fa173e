"""Receivers: turn what senders deliver into pdata batches."""
