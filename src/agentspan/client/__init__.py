"""The SDK's transport: one async HTTP client, one SSE decoder, the worker poll loop.

Nothing here imports the server.
"""
