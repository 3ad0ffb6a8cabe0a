#!/usr/bin/env python3
"""A getblocktemplate miner written from BIP22/BIP23 alone, standard library only: it
shares no code with the node. It asks for templates the way mining software does
(rules ["segwit"]), builds its own coinbase (BIP34 height, a P2PKH payout to its address,
an OP_RETURN commitment output), grinds the nonce and submits.

    gbt_client.py URL COOKIE mine ADDRESS COUNT   -> JSON list of mined block hashes
    gbt_client.py URL COOKIE longpoll             -> prints "ready", then JSON
    gbt_client.py URL COOKIE reasons ADDRESS      -> JSON object of submission answers
"""

import base64
import hashlib
import json
import struct
import sys
import urllib.error
import urllib.request

URL, COOKIE = sys.argv[1], sys.argv[2]
REQUEST = {"rules": ["segwit"], "capabilities": ["coinbasetxn", "workid", "longpoll"]}


def rpc(method, *params, timeout=180):
    with open(COOKIE) as f:
        auth = base64.b64encode(f.read().strip().encode()).decode()
    body = json.dumps({"jsonrpc": "1.0", "id": "gbt", "method": method, "params": list(params)})
    req = urllib.request.Request(URL, body.encode(), {
        "Authorization": "Basic " + auth, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            reply = json.load(resp)
    except urllib.error.HTTPError as e:
        reply = json.load(e)
    if reply.get("error"):
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply["result"]


def dsha(data):
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def varint(n):
    if n < 0xfd:
        return bytes([n])
    if n <= 0xffff:
        return b"\xfd" + struct.pack("<H", n)
    return b"\xfe" + struct.pack("<I", n)


def push(data):
    assert len(data) < 0x4c
    return bytes([len(data)]) + data


def bip34(height):
    """CScript() << height: OP_0, OP_1..OP_16, else a minimal little-endian number."""
    if height == 0:
        return b"\x00"
    if height <= 16:
        return bytes([0x50 + height])
    return push(height.to_bytes((height.bit_length() + 8) // 8, "little"))


B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def p2pkh(address):
    n = 0
    for c in address:
        n = n * 58 + B58.index(c)
    raw = n.to_bytes(25, "big")
    assert dsha(raw[:21])[:4] == raw[21:], "bad address checksum"
    return b"\x76\xa9\x14" + raw[1:21] + b"\x88\xac"


def coinbase(template, script_pubkey, extranonce, extra_value=0):
    script_sig = bip34(template["height"]) + push(struct.pack("<Q", extranonce)) + push(b"/gbt-client/")
    commitment = b"\x6a\x24\xaa\x21\xa9\xed" + dsha(b"witness")  # as segwit miners write it
    outputs = [(template["coinbasevalue"] + extra_value, script_pubkey), (0, commitment)]
    tx = struct.pack("<i", 1) + varint(1) + b"\x00" * 32 + b"\xff" * 4
    tx += varint(len(script_sig)) + script_sig + b"\xff" * 4
    tx += varint(len(outputs))
    for value, script in outputs:
        tx += struct.pack("<q", value) + varint(len(script)) + script
    return tx + struct.pack("<I", 0)


def merkle_root(hashes):
    while len(hashes) > 1:
        if len(hashes) % 2:
            hashes.append(hashes[-1])
        hashes = [dsha(hashes[i] + hashes[i + 1]) for i in range(0, len(hashes), 2)]
    return hashes[0]


def assemble(template, script_pubkey, extranonce=0, extra_value=0, bad_merkle=False, want_valid_pow=True):
    cb = coinbase(template, script_pubkey, extranonce, extra_value)
    txs = [cb] + [bytes.fromhex(t["data"]) for t in template["transactions"]]
    for t in template["transactions"]:
        assert bytes.fromhex(t["txid"])[::-1] == dsha(bytes.fromhex(t["data"]))
    root = merkle_root([dsha(tx) for tx in txs])
    if bad_merkle:
        root = dsha(root)
    target = int(template["target"], 16)
    prefix = struct.pack("<I", template["version"]) + bytes.fromhex(template["previousblockhash"])[::-1]
    prefix += root + struct.pack("<I", template["curtime"]) + struct.pack("<I", int(template["bits"], 16))
    nonce = 0
    while True:
        header = prefix + struct.pack("<I", nonce)
        if (int.from_bytes(dsha(header), "little") <= target) == want_valid_pow:
            break
        nonce += 1
    block = header + varint(len(txs)) + b"".join(txs)
    return block.hex(), dsha(header)[::-1].hex()


def mine(address, count):
    script = p2pkh(address)
    hashes = []
    for _ in range(count):
        template = rpc("getblocktemplate", REQUEST)
        block, block_hash = assemble(template, script)
        proposal = rpc("getblocktemplate", {"mode": "proposal", "data": block})
        if proposal is not None:
            raise RuntimeError(f"proposal refused: {proposal}")
        answer = rpc("submitblock", block)
        if answer is not None:
            raise RuntimeError(f"submitblock refused: {answer}")
        hashes.append(block_hash)
    print(json.dumps(hashes))


def longpoll():
    template = rpc("getblocktemplate", REQUEST)
    print("ready", flush=True)
    request = dict(REQUEST, longpollid=template["longpollid"])
    after = rpc("getblocktemplate", request)
    print(json.dumps({"before": template["previousblockhash"], "after": after["previousblockhash"],
                      "height": after["height"]}), flush=True)


def reasons(address):
    script = p2pkh(address)
    answers = {}
    old = rpc("getblocktemplate", REQUEST)
    stale, _ = assemble(old, script, extranonce=1)
    stale_unsent, _ = assemble(old, script, extranonce=2)
    winner, _ = assemble(old, script, extranonce=3)
    answers["winner"] = rpc("submitblock", winner)
    answers["duplicate"] = rpc("submitblock", winner)
    answers["stale_proposal"] = rpc("getblocktemplate", {"mode": "proposal", "data": stale_unsent})
    answers["stale"] = rpc("submitblock", stale)
    new = rpc("getblocktemplate", REQUEST)
    answers["bad_merkle_proposal"] = rpc("getblocktemplate", {"mode": "proposal", "data": assemble(new, script, bad_merkle=True)[0]})
    answers["bad_merkle"] = rpc("submitblock", assemble(new, script, extranonce=4, bad_merkle=True)[0])
    answers["high_hash"] = rpc("submitblock", assemble(new, script, extranonce=5, want_valid_pow=False)[0])
    answers["overpaid"] = rpc("submitblock", assemble(new, script, extranonce=6, extra_value=1)[0])
    answers["overpaid_proposal"] = rpc("getblocktemplate", {"mode": "proposal", "data": assemble(new, script, extranonce=7, extra_value=1)[0]})
    print(json.dumps(answers))


if __name__ == "__main__":
    command = sys.argv[3]
    if command == "mine":
        mine(sys.argv[4], int(sys.argv[5]))
    elif command == "longpoll":
        longpoll()
    elif command == "reasons":
        reasons(sys.argv[4])
    else:
        sys.exit(f"unknown command {command}")
