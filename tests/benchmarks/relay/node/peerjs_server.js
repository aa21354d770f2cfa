// The PeerJS server from npm (`peer`), as its README starts it, on a loopback port.
// Clients connect to /peerjs?key=peerjs&id=ID&token=TOKEN; /peerjs/peers lists
// them (allow_discovery) so the benchmark can count its connections.
"use strict";
const fs = require("fs");
const path = require("path");
const { PeerServer } = require("peer");

const [host, port] = [process.argv[2] || "127.0.0.1", Number(process.argv[3] || 0)];
PeerServer(
  { host, port, path: "/", key: "peerjs", allow_discovery: true, concurrent_limit: 1000000 },
  (server) => {
    const bound = server.address().port;
    const main = require.resolve("peer"); // .../peer/dist/index.cjs; package.json is not exported
    const manifest = path.join(path.dirname(main), "..", "package.json");
    const version = JSON.parse(fs.readFileSync(manifest, "utf8")).version;
    console.log(`peerjs ${version} listening on ws://${host}:${bound}/`);
  },
);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
