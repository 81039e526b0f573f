"""Serve the operator: ``status`` and ``destination_status`` gather what poster is doing, ``inbox``
hands commands to a running daemon, ``preview`` shows what a run would post."""
