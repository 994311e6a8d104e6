"""Test doubles that speak real wire protocols (HTTP servers on localhost)."""
