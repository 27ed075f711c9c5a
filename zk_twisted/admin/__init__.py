"""The operator surface 3.8 serves besides the client protocol: its admin commands.

:mod:`.commands` gathers what each command reports (shared with the four-letter words),
:mod:`.server` serves them over HTTP as 3.8's Jetty AdminServer does.
"""
