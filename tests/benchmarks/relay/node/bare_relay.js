// The bare Node relay: what a Node developer would naturally write with `ws`.
// The same flow and wire format as ../bare_relay.py: JSON.parse every frame,
// route by connection id in a Map, JSON.stringify the event, send(). No
// validation, no limits. /healthz counts connections for the benchmark.
"use strict";
const http = require("http");
const crypto = require("crypto");
const { WebSocketServer } = require("ws");

const [host, port] = [process.argv[2] || "127.0.0.1", Number(process.argv[3] || 0)];
const connections = new Map();
const lobbies = new Map();
const nextPeerId = new Map();
const send = (ws, event, content) => ws.send(JSON.stringify({ event, content }));

const server = http.createServer((req, res) => {
  if (req.url === "/healthz") {
    const body = JSON.stringify({ status: "ok", connections: connections.size }) + "\n";
    res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
    res.end(body);
  } else {
    res.writeHead(404).end();
  }
});
const wss = new WebSocketServer({ server });
wss.on("connection", (ws) => {
  const connectionId = crypto.randomBytes(12).toString("base64url");
  connections.set(connectionId, ws);
  let lobbyId = "";
  ws.on("message", (raw) => {
    const message = JSON.parse(raw);
    const content = message.content || {};
    switch (message.action) {
      case "start_lobby":
        lobbyId = crypto.randomBytes(4).toString("hex").slice(0, 6).toUpperCase();
        lobbies.set(lobbyId, connectionId);
        nextPeerId.set(lobbyId, 2);
        send(ws, "lobby_started", {
          lobby_id: lobbyId, connection_id: connectionId, peer_id: 1, ice_servers: [],
        });
        break;
      case "join_lobby": {
        lobbyId = content.lobby_id;
        const hostWs = connections.get(lobbies.get(lobbyId));
        send(hostWs, "request_to_join", { connection_id: connectionId, name: content.name });
        send(ws, "join_requested", { lobby_id: lobbyId, name: lobbyId });
        break;
      }
      case "accept_request": {
        const guestId = content.connection_id;
        const peerId = nextPeerId.get(lobbyId);
        nextPeerId.set(lobbyId, peerId + 1);
        send(connections.get(guestId), "request_accepted", {
          lobby_id: lobbyId, host_connection_id: connectionId, connection_id: guestId,
          peer_id: peerId, ice_servers: [],
        });
        send(ws, "guest_accepted", { connection_id: guestId, peer_id: peerId });
        break;
      }
      case "send_ice_candidate":
        send(connections.get(content.connection_id), "received_ice_candidate", {
          connection_id: connectionId, candidate: content.candidate,
        });
        break;
    }
  });
  ws.on("close", () => connections.delete(connectionId));
  ws.on("error", () => {});
});
server.listen(port, host, () => {
  const bound = server.address().port;
  console.log(`node-ws ${require("ws/package.json").version} listening on ws://${host}:${bound}/`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
