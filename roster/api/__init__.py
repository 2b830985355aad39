"""Roster's REST API: Resend's Contacts (Import) API wire format, served by FastAPI."""
