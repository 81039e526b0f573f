"""Serve the operator: ``status`` shows what poster is doing (``statusjson`` as JSON),
``commands`` retries and pauses, ``inbox`` hands commands to a running daemon, ``preview``
shows what a run would post, ``accounts`` what each destination's account says."""
