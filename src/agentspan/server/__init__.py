"""The Agentspan server: REST API, engine, executors, providers and stores."""
