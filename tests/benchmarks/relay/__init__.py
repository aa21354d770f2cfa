"""Relay benchmark: LobbyHost's signalling server against bare Python and Node relays and PeerJS.

Run from the repository root::

    .venv/bin/python -m tests.benchmarks.relay            # full run, about 9 minutes
    .venv/bin/python -m tests.benchmarks.relay --quick    # short run, about 4 minutes
    .venv/bin/python -m tests.benchmarks.relay --json bench-results/relay.json
    .venv/bin/python -m tests.benchmarks.relay --phases memory --no-compression

One run measures every server under the same flow and prints two markdown tables
(ours as installed against the bare Python relay; then every server against
the bare Node relay) and the reconnect storm:

- The servers (``contenders.py``), each in a subprocess of its own: ours
  (``python -m signalling_server``) on asyncio's loop, on uvloop when the extra
  is installed, and as it was before the fast frame path (``variant.py
  --generic-frames``); the bare Python relay of ``bare_relay.py``
  (``--serve-bare``); and, when ``node`` is installed, the bare Node ``ws`` relay
  of ``node/bare_relay.js`` and the PeerJS server from npm (``node/peerjs_server.js``),
  with ``ws`` and ``peer`` installed by npm into ``~/.cache/lobbyhost-bench``
  (``node_peers.py``; never into the repository). Without node the Node rows are
  left out with a note. Both bare relays speak our protocol's frames; PeerJS is
  driven with its own (ids in the URL, ``CANDIDATE`` with ``dst``/``src``,
  heartbeats every 5 s as its client library sends them). The load
  generator runs in separate worker processes (``--workers``, default 2); the
  orchestrator only sends them commands and reads ``/proc`` of the servers.
- The flow: ``--lobbies`` lobbies, each a host plus 1, 2 or 3 accepted guests
  (start_lobby, join_lobby, request_to_join, accept_request, request_accepted),
  every client bound to its own loopback source address (127.0.1.1 ..
  127.0.1.254 for worker 0, 127.0.2.x for worker 1, ...) so the per-address
  limits of our server (8 open lobbies, 30 joins a minute) are never reached.
  Every host/guest pair then relays ICE candidates both ways with
  ``send_ice_candidate``: a Chrome-shaped candidate dict (host, srflx, relay
  or tcp candidate line, ``sdpMid``, ``sdpMLineIndex``, ``usernameFragment``)
  whose candidate line ends with ``x-seq N x-ts T`` extension attributes; the
  receiver checks order and loss per sender and computes the latency.
- Paced run (metrics 1 and 2): every client sends at the same rate so that the
  total offered load is ``--rate`` (8,000 msg/s) and each connection stays far
  below our server's default budget of 50 actions/s; our server runs with its
  default limits. Repetitions alternate between the servers; the server CPU
  (utime + stime from ``/proc/PID/stat``) over each repetition divided by the
  messages relayed gives CPU microseconds per message (median reported).
- Saturation (metric 3): every client sends as fast as it can with a window of
  ``--window`` unanswered messages. Our server is started again with
  ``--actions-per-second``/``--action-burst`` raised so that its limiter (which
  still runs on every frame) does not throttle the benchmark.
- Memory (metric 4): a fresh process of each server, ``--idle-connections``
  idle websocket connections; (VmRSS after - VmRSS before) / N from
  ``/proc/PID/status``; the held count is read from ``/healthz`` (PeerJS: its
  peer list).
- Reconnect storm (``storm.py``): ``--storm-clients`` hosts, each with a lobby,
  drop at once and all resume together; the time until every one got
  ``resumed``, and the SYNs the kernel dropped, with our listen backlog (1024)
  and asyncio's default (100), fresh servers, alternating.

Repetitions rotate through the servers, so every comparison is paired: the
ratios to the bare Node relay are medians of per-repetition ratios. At
saturation the load generator, on the same two cores, tops out before the
fastest servers do, so what one server core would relay (messages / server
CPU seconds) is the saturation figure compared.

The load generator (``--generator``): ``raw`` by default, one
``asyncio.Protocol`` per client on uvloop when installed (``raw_client.py``):
the opening handshake through websockets' sans-I/O ``ClientProtocol``, then
masked text frames written straight to the transport and the server's frames
read by ``frames.py`` (pings answered, closes echoed, anything unexpected an
error); a relayed candidate is read with a small ``msgspec`` decode (sender
and candidate line), other events with ``json.loads``; one pacing task per
worker process, and at saturation each delivery makes its sender send the
next frame (no task per client). A connection that negotiated
permessage-deflate (the bare Python relay) keeps websockets' protocol for its
frames. ``websockets`` is the generator used before: its asyncio client, a
reader task and ``json.loads`` per message, a sender task per client. The
``generators`` phase runs both on a fresh server of ours, alternating, and
reports each one's own CPU per message and the latency it sees.

Clients offer permessage-deflate by default (as browsers do; only the bare
Python relay accepts it); ``--no-compression`` makes them not offer it. Every
byte goes to loopback.

CPU per message depends on how busy the machine is (a busier server reads more
frames per wake-up), so the benchmark watches ``/proc/stat`` for CPU used by
processes that are not its own: it waits for a quiet moment before each
repetition (``--quiet-wait`` seconds in all), measures a disturbed repetition
again (``--retries``), and prints a warning under the table when the kept
repetitions were still disturbed.

Modules: ``cli`` (the entry point), ``bare_relay`` and ``node/`` (the servers we
compare with), ``contenders``, ``node_peers`` and ``variant`` (which servers, and how
they are started), ``storm`` and ``storm_clients`` (the reconnect storm), ``peer_report``,
``candidates``, ``flow``, ``load_worker``, ``raw_client`` and ``frames`` (the load
generator, in worker processes; ``generators`` compares its two clients), ``worker_pool`` and ``servers`` (the orchestrator's handles on those
processes), ``process_resources`` and ``quiet_gate`` (``/proc`` readings),
``plan``, ``repetitions``, ``traffic``, ``paced``, ``saturation`` and ``memory``
(the phases), ``stats`` and ``report`` (the figures and the table).
"""
