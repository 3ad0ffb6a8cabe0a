"""Runs Python kademlia 2.2.3 nodes on 127.0.0.1 for the discovery integration test.

Reads one JSON command per line on stdin, answers one JSON line on stdout; prints
{"ready": true} first. Ends (stopping every node) when stdin closes. Needs
`pip install kademlia==2.2.3`. Runs unpatched on Python 3.11.

Commands (every answer has "ok", and "error" when it is false):
  {"op": "start", "bootstrap": [[ip, port], ...]} -> {"node", "port", "id"}
  {"op": "contacts", "node": n}                    -> {"contacts": [[id_hex, ip, port], ...]}
  {"op": "lookup", "node": n, "id": hex}           -> {"contacts": [...]}
  {"op": "set", "node": n, "key": k, "value": v}   -> {"stored": bool}
  {"op": "get", "node": n, "key": k}               -> {"value": v or null}
  {"op": "find_value", "node": n, "addr": [ip, port], "key": k}
      -> {"answered": bool, "value": v} or {"answered": bool, "contacts": [...]}
"""

import asyncio
import json
import logging
import sys

try:
    from kademlia.crawling import NodeSpiderCrawl
    from kademlia.network import Server
    from kademlia.node import Node
    from kademlia.utils import digest
except ImportError as error:
    print(json.dumps({"error": f"{error}; run: pip install kademlia==2.2.3"}), flush=True)
    sys.exit(2)

# The package logs expected timeouts at ERROR; keep the test output clean.
logging.basicConfig(level=logging.CRITICAL)
NODES = []


def triple(node):
    node_id, ip, port = tuple(node)
    return [node_id.hex(), ip, port]


async def handle(cmd):
    op = cmd["op"]
    if op == "start":
        server = Server()  # ksize=20, alpha=3, random id: the tutorial's defaults
        await server.listen(0, "127.0.0.1")
        NODES.append(server)
        port = server.transport.get_extra_info("sockname")[1]
        bootstrap = [tuple(addr) for addr in cmd.get("bootstrap", [])]
        if bootstrap:
            await server.bootstrap(bootstrap)
        return {"node": len(NODES) - 1, "port": port, "id": server.node.id.hex()}
    server = NODES[cmd["node"]]
    if op == "contacts":
        buckets = server.protocol.router.buckets
        return {"contacts": [triple(n) for b in buckets for n in b.get_nodes()]}
    if op == "lookup":
        target = Node(bytes.fromhex(cmd["id"]))
        nearest = server.protocol.router.find_neighbors(target, server.alpha)
        crawl = NodeSpiderCrawl(server.protocol, target, nearest, server.ksize, server.alpha)
        return {"contacts": [triple(n) for n in await crawl.find()]}
    if op == "set":
        return {"stored": bool(await server.set(cmd["key"], cmd["value"]))}
    if op == "get":
        return {"value": await server.get(cmd["key"])}
    if op == "find_value":
        addr = tuple(cmd["addr"])
        answered, result = await server.protocol.find_value(
            addr, server.node.id, digest(cmd["key"])
        )
        if isinstance(result, dict):
            return {"answered": answered, "value": result.get("value")}
        return {"answered": answered, "contacts": [triple(t) for t in result or []]}
    raise ValueError(f"unknown op {op!r}")


async def main():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print(json.dumps({"ready": True}), flush=True)
    while line := await reader.readline():
        try:
            reply = {"ok": True, **await handle(json.loads(line))}
        except Exception as error:  # reported to the test, which fails with it
            reply = {"ok": False, "error": repr(error)}
        print(json.dumps(reply), flush=True)
    for server in NODES:
        server.stop()


asyncio.run(main())
