"""The service layer: what the server offers, between the HTTP edge and the driver.

Both HTTP stacks (``api/routes.py`` + ``api/sse.py`` for FastAPI, ``api/fast.py`` for the
raw-ASGI hot paths) only parse a request, call one method here and map its result or its
``DomainError``. Every method takes the calling ``Principal`` first, so authorization is
written once, here, when it comes.

- ``executions.py``: ``ExecutionService`` (start, read, respond, control, events, streams);
- ``queries.py``: the read models built from stored rows (status, detail, list, events);
- ``stream.py``: an execution's live event stream as SSE frames;
- ``principal.py``: who is calling.

The worker side (poll, heartbeat, complete, fail) is ``server/tasks.py::TaskService``.
"""
