"""Prometheus metrics of the service: ``GET /metrics``, summed over every granian worker.

``registry`` defines every metric (names, labels, buckets) and renders the exposition;
``multiproc`` prepares the shared directory the workers write to (prometheus-client's
multiprocess mode, set up by ``python -m app``); ``http`` counts requests by route template;
``runs`` turns run events and the orchestrator's model-call records into metrics; ``db``
follows the connection pool; ``plugin`` wires it into the app and serves ``/metrics``.
See docs/observability.md.
"""
