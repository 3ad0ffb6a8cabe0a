"""Print real kademlia 2.2.3 datagrams as hex, one `name hex` per line.

The wire unit tests (src/wire/vectors.rs) hold this script's output, so the Rust encoder is
checked against bytes the Python package really sends. Rerun after `pip install
kademlia==2.2.3` to refresh them: `python3 tests/capture_vectors.py`.
"""

import asyncio
import socket

import umsgpack
from kademlia.network import Server
from kademlia.node import Node

SERVER_ID = bytes([0x11] * 20)
PEER_ID = bytes([0x22] * 20)
KEY = bytes([0x33] * 20)
CONTACT_A = bytes([0x30] + [0x01] * 19)
CONTACT_B = bytes([0x80] + [0x02] * 19)
MSG_ID = bytes(range(20))


async def recv(loop, sock):
    data, _ = await asyncio.wait_for(loop.sock_recvfrom(sock, 65536), 5)
    return data


async def main():
    loop = asyncio.get_running_loop()
    server = Server(node_id=SERVER_ID)
    await server.listen(0, "127.0.0.1")
    server_addr = ("127.0.0.1", server.transport.get_extra_info("sockname")[1])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    peer_addr = sock.getsockname()
    proto = server.protocol

    # Requests the Python node sends; answers are never sent, so the calls time out unheard.
    requests = [
        ("req_ping", lambda: proto.ping(peer_addr, SERVER_ID)),
        ("req_stun", lambda: proto.stun(peer_addr)),
        ("req_find_node", lambda: proto.find_node(peer_addr, SERVER_ID, KEY)),
        ("req_find_value", lambda: proto.find_value(peer_addr, SERVER_ID, KEY)),
        ("req_store_str", lambda: proto.store(peer_addr, SERVER_ID, KEY, "world")),
        ("req_store_bytes", lambda: proto.store(peer_addr, SERVER_ID, KEY, b"\x01\x02")),
        ("req_store_int", lambda: proto.store(peer_addr, SERVER_ID, KEY, 300)),
        ("req_store_neg", lambda: proto.store(peer_addr, SERVER_ID, KEY, -5)),
        ("req_store_float", lambda: proto.store(peer_addr, SERVER_ID, KEY, 1.5)),
        ("req_store_bool", lambda: proto.store(peer_addr, SERVER_ID, KEY, True)),
    ]
    for name, call in requests:
        future = call()
        print(name, (await recv(loop, sock)).hex())
        future.cancel()

    # Responses of the Python node to requests built here with a fixed message id.
    proto.router.add_contact(Node(CONTACT_A, "127.0.0.1", 4000))
    proto.router.add_contact(Node(CONTACT_B, "10.0.0.1", 65535))
    proto.storage[KEY] = "world"
    other_key = bytes([0x44] * 20)
    calls = [
        ("resp_ping", ["ping", [PEER_ID]]),
        ("resp_stun", ["stun", []]),
        ("resp_find_node", ["find_node", [PEER_ID, other_key]]),
        ("resp_find_value_hit", ["find_value", [PEER_ID, KEY]]),
        ("resp_find_value_miss", ["find_value", [PEER_ID, other_key]]),
        ("resp_store", ["store", [PEER_ID, other_key, b"\x01\x02"]]),
    ]
    for name, body in calls:
        await loop.sock_sendto(sock, b"\x00" + MSG_ID + umsgpack.packb(body), server_addr)
        print(name, (await recv(loop, sock)).hex())
    print("peer_port", peer_addr[1])
    server.stop()


asyncio.run(main())
