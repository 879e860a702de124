"""Authentication: password hashing, tokens and their revocation."""
