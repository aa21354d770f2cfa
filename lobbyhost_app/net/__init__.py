"""The client side without Qt: signalling, host and guest sessions, peer links, hosting, ICE.

Usable from plain asyncio: the headless host, the guest CLI and the tests use
it directly; the desktop app's controllers wrap it.

    signalling_api.py  Signalling: the seam sessions depend on; client-local events
    signalling.py      SignallingClient: protocol v1 over a websocket, typed both ways
    pacing.py          ActionPacer: stay inside the server's action budget
    host.py            HostSession: a lobby, join requests, a peer link per guest
    guest.py           GuestSession: join by code, answer the host's offer
    link.py            PeerLink: one RTCPeerConnection, its data channels by label
    channels.py        LobbyChannel, GameChannel: the data-channel contract
    hosting.py         HostingService: embedded server + client + host session, once
    ice.py             IceSettings, and the process-wide address allow-list
    forwards.py        SharedPort (25565/tcp=Minecraft), the ports message, bridge labels
    bridge.py          PortBridge: the game bridge over one link (bridge_tcp, bridge_udp)
    game_ports.py      HostGamePorts, GuestGamePorts: a bridge per link of a session
    route_preference.py  direct routes first: relayed ICE pairs are checked after a delay
    port_mapping.py    PortMapper: the router forwards the server's port (state as a value)
    upnp.py, nat_pmp.py  the two ways of asking a router: UPnP-IGD, NAT-PMP

The values these report (states, stats, session events) live in
:mod:`lobbyhost_app.session_values`, which loads none of this.
"""
