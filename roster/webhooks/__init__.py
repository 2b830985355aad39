"""Resend-style webhooks: signing and delivering the events the outbox (roster/store/webhook_outbox.py) holds."""
