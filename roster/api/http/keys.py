"""API keys live in the store (roster/store/keys.py); these names stay importable from here for
code written against the API package."""

from roster.store.keys import TOKEN_PREFIX, IssuedKey, create_api_key, hash_token, issue_api_key

__all__ = ["TOKEN_PREFIX", "IssuedKey", "create_api_key", "hash_token", "issue_api_key"]
