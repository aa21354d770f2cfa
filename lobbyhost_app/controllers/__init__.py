"""QObjects that own a session (host or guest) and the settings; no widgets here.

They turn network events into past-tense Qt signals and the user's intents into
session calls; see ``host_controller``, ``guest_controller`` and ``settings``.
"""
