"""Internals of the offline engine (see :mod:`orchestrator.providers.offline`).

``typos``, ``quantities``, ``extract``, ``invalid`` and ``intent`` read a question;
``interpretation`` turns the reading into asks and the typed :class:`Interpretation` the user
sees; ``planning`` plans the steps and runs each ask's policy; ``grid``, ``ranking``,
``scheduling``, ``business`` and ``analysis`` are the step policies (which tools to call, what
the results say); ``report`` writes the final report.
"""
