"""Questions over HTTP: durable runs, their events, resumable SSE streams."""
