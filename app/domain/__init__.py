"""Domain rules as plain functions over a session, callable from requests and workers."""
