"""The HTTP edge: routes, SSE and error mapping. No SQL and no loop logic here."""
