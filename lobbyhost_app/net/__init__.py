"""The client side without Qt: signalling client, host peers, guest peer, ICE settings.

Usable from plain asyncio: the headless host, the guest CLI and the tests use
it directly; the desktop app's controllers wrap it.
"""
