"""Server-side executors: the work this server runs under a lease, keyed by task kind.

``base.py`` says what an executor is; ``pool.py`` runs every registered kind alike;
``llm.py`` (model calls), ``timer.py`` (deadlines) and ``tools.py`` (the adapter a
server-side tool executor such as HTTP, MCP or a sandbox builds on) fill it. Adding a kind
is one module whose executor is registered with ``Services.start(executors=[...])``.
"""
