"""Subscribes to a node's ZeroMQ notifications with pyzmq (libzmq, as bitcoind's
listeners do) and writes one JSON line per message: topic, sequence number, body hex,
and for raw bodies the sha256d the Python side computes (block header, transaction).

    python3 zmq_subscriber.py OUTPUT ENDPOINT...
Runs until killed; every line is flushed at once.
"""
import hashlib
import json
import sys

import zmq


def sha256d(data):
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()[::-1].hex()


def main():
    output, endpoints = sys.argv[1], sys.argv[2:]
    context = zmq.Context()
    socket = context.socket(zmq.SUB)
    socket.setsockopt(zmq.RCVHWM, 0)
    for topic in (b"hashblock", b"hashtx", b"rawblock", b"rawtx", b"sequence"):
        socket.setsockopt(zmq.SUBSCRIBE, topic)
    for endpoint in endpoints:
        socket.connect(endpoint)
    with open(output, "a", encoding="utf-8") as out:
        while True:
            parts = socket.recv_multipart()
            line = {"parts": len(parts), "topic": parts[0].decode()}
            if len(parts) == 3:
                body, seq = parts[1], parts[2]
                line["body"] = body.hex()
                line["seq"] = int.from_bytes(seq, "little") if len(seq) == 4 else -1
                if line["topic"] == "rawblock":
                    line["hash"] = sha256d(body[:80])
                elif line["topic"] == "rawtx":
                    line["hash"] = sha256d(body)
            out.write(json.dumps(line) + "\n")
            out.flush()


if __name__ == "__main__":
    main()
