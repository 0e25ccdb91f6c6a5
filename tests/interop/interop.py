#!/usr/bin/python3
"""interop.py: an independent client of stagger, written only from
docs/protocol.md with PyNaCl and pyzmq: signed documents and key files
(sections 1-3) checked against staggerctl in both directions, then the
client side of the wire protocol (sections 7.1, 7.2, 7.9) against one
running staggerd. Imports nothing from the project.

usage: /usr/bin/python3 interop.py STAGGERCTL STAGGERD      (prints TAP)
"""
import base64
import json
import os
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time

from nacl.bindings import crypto_sign_ed25519_pk_to_curve25519, crypto_sign_ed25519_sk_to_curve25519
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

try:
    import zmq
except ImportError:  # the wire part needs Debian's python3-zmq
    zmq = None

# docs/protocol.md §2: the envelope and its document types.
MAGIC = b"STG"
VERSION = 1
TYPES = {"roster": 1, "release": 2, "record": 3, "command": 4}
HEADER = 10
ENTRY = 32 + 64


def signing_input(name, payload, domain=None):
    """§2.1: "stagger/v1/" || NAME || 0x00 || payload."""
    prefix = domain if domain is not None else b"stagger/v1/" + name.encode() + b"\0"
    return prefix + payload


def seal(name, payload, keys, domain=None):
    """An envelope of payload signed by each SigningKey in keys."""
    out = MAGIC + bytes([VERSION, TYPES[name], len(keys)]) + struct.pack(">I", len(payload))
    out += payload
    for k in keys:
        sig = k.sign(signing_input(name, payload, domain)).signature
        out += bytes(k.verify_key) + sig
    return out


def open_envelope(buf):
    """§2: parse and check every signature; returns (type name, payload,
    [signer public keys]) or raises ValueError naming the problem."""
    if len(buf) < HEADER + 1 + ENTRY:
        raise ValueError("too short")
    if buf[:3] != MAGIC or buf[3] != VERSION:
        raise ValueError("bad magic or version")
    names = {v: k for k, v in TYPES.items()}
    if buf[4] not in names:
        raise ValueError("unknown type %d" % buf[4])
    nsig = buf[5]
    (plen,) = struct.unpack(">I", buf[6:10])
    if not 1 <= nsig <= 8 or not 1 <= plen <= 65536:
        raise ValueError("bad counts")
    if len(buf) != HEADER + plen + ENTRY * nsig:
        raise ValueError("length mismatch")
    payload = buf[HEADER:HEADER + plen]
    signers = []
    for i in range(nsig):
        e = buf[HEADER + plen + i * ENTRY:HEADER + plen + (i + 1) * ENTRY]
        pk, sig = e[:32], e[32:]
        if pk in signers:
            raise ValueError("duplicate signer")
        VerifyKey(pk).verify(signing_input(names[buf[4]], payload), sig)
        signers.append(pk)
    return names[buf[4]], payload, signers


def b64(raw):
    return base64.b64encode(raw).decode()


def read_b64_line(path, n):
    """§1: 44 characters of standard base64 (with padding) of n bytes, then
    nothing, \\n or \\r\\n; any other ending is refused."""
    text = open(path, "rb").read()
    if len(text) == 45 and text.endswith(b"\n"):
        text = text[:44]
    elif len(text) == 46 and text.endswith(b"\r\n"):
        text = text[:44]
    if len(text) != 44:
        raise ValueError("%s: not one line of 44 base64 characters" % path)
    raw = base64.b64decode(text, validate=True)
    if len(raw) != n or b64(raw).encode() != text:
        raise ValueError("%s: not canonical base64 of %d bytes" % (path, n))
    return raw


def load_secret(path):
    """§1: refuse a key file others can read, or a symbolic link."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode) or st.st_mode & 0o077:
        raise ValueError("%s: unsafe key file" % path)
    return SigningKey(read_b64_line(path, 32))


def write_keypair(prefix):
    """A key pair in the §1 file format, secret key mode 0600."""
    k = SigningKey.generate()
    fd = os.open(prefix + ".key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(b64(bytes(k)) + "\n")
    with open(prefix + ".pub", "w") as f:
        f.write(b64(bytes(k.verify_key)) + "\n")
    return k


def roster_json(operators, members, serial=1):
    """A roster (schema in docs/protocol.md §4) for a small pool."""
    roles = ["producer", "standby", "relay", "dark-relay"]
    doc = {
        "fleet": "interop",
        "serial": serial,
        "operators": [b64(bytes(k.verify_key)) for k in operators],
        "emergency_quorum": 1,
        "observers": [],
        "members": [
            {
                "name": "node%d" % i,
                "key": b64(bytes(k.verify_key)),
                "endpoint": "tcp://127.0.0.1:%d" % (7401 + i),
                "role": roles[i % len(roles)],
                "flavour": ["debian", "nix"][i % 2],
            }
            for i, k in enumerate(members)
        ],
    }
    return json.dumps(doc, indent=1).encode()


def release_json():
    h = "ab" * 32
    return json.dumps({
        "component": "cardano-node",
        "version": "10.5.3",
        "created_at": 1764115200,
        "artifacts": {
            "debian": {"url": "https://example.org/cardano-node_10.5.3.deb", "sha256": h},
            "nix": {"image": "cardano-node@sha256:" + h},
        },
    }).encode()


# docs/protocol.md §7.2 and §7.9: frames, and the replies a client gets.
MSG = {"ping": 1, "roster": 7, "release": 9, "command": 16, "status-req": 20,
       "status-rep": 21, "error-rep": 22, "ok-rep": 23}
# §6: a reject reason's number is its row in the table.
REASON = {"TOO_SHORT": 1, "BAD_VERSION": 4, "BAD_LENGTH": 7, "UNKNOWN_SIGNER": 12, "STALE": 26, "REPLAY": 27,
          "NOT_ALLOWED": 34}
OUTCOME = {"applied": 0, "held": 1, "not-here": 2, "pending": 3}


def frame(mtype, serial, body=b""):
    """§7.2: version:u8 type:u8 roster_serial:u64 body."""
    return bytes([1, mtype]) + struct.pack(">Q", serial) + body


def parse_reply(buf):
    """§7.9: (type name, code, text) of a reply frame; code is the reason of
    an error-rep, the outcome of an ok-rep, None for a status-rep."""
    names = {v: k for k, v in MSG.items()}
    if len(buf) < 10 or buf[0] != 1 or buf[1] not in names:
        raise ValueError("not a reply frame: %r" % buf[:12])
    kind = names[buf[1]]
    if kind == "status-rep":
        return kind, None, buf[10:].decode()
    if kind in ("error-rep", "ok-rep") and len(buf) >= 11:
        return kind, buf[10], buf[11:].decode()
    raise ValueError("unexpected %s" % kind)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def curve_dealer(ctx, client_key, server_pub, endpoint):
    """§7.1: a CURVE client whose keys are the X25519 forms of the Ed25519
    identity (§1)."""
    d = ctx.socket(zmq.DEALER)
    d.linger = 0
    d.curve_secretkey = crypto_sign_ed25519_sk_to_curve25519(
        bytes(client_key) + bytes(client_key.verify_key))
    d.curve_publickey = crypto_sign_ed25519_pk_to_curve25519(bytes(client_key.verify_key))
    d.curve_serverkey = crypto_sign_ed25519_pk_to_curve25519(server_pub)
    d.connect(endpoint)
    return d


def ask(sock, data, timeout_s=5):
    sock.send(data)
    if not sock.poll(timeout_s * 1000):
        return None
    return parse_reply(sock.recv())


def command_json(seq, action="halt"):
    now = int(time.time())
    return json.dumps({"fleet": "interop", "seq": seq, "issued_at": now,
                       "expires_at": now + 600, "action": action}).encode()


def wire_checks(tap, daemon, work, op, members):
    """One staggerd (member node0 of a roster made here) and this client
    with the operator key: every request gets exactly the reply §7.9 says."""
    port = free_port()
    doc = json.loads(roster_json([op], members))
    doc["members"][0]["endpoint"] = "tcp://127.0.0.1:%d" % port
    roster = json.dumps(doc).encode()
    with open("wire-roster.signed", "wb") as f:
        f.write(seal("roster", roster, [op]))
    fd = os.open("node0.key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(b64(bytes(members[0])) + "\n")
    with open("node0.json", "w") as f:
        json.dump({"key": os.path.join(work, "node0.key"),
                   "roster": os.path.join(work, "wire-roster.signed"),
                   "state_dir": os.path.join(work, "state"), "component": "cardano-node",
                   "hooks": {}, "log_level": "info"}, f)
    log = open("node0.log", "w")
    proc = subprocess.Popen([daemon, "--config", "node0.json"], stderr=log)
    ctx = zmq.Context()
    sock = curve_dealer(ctx, op, bytes(members[0].verify_key), "tcp://127.0.0.1:%d" % port)
    try:
        serial = 1
        status = None
        deadline = time.time() + 20
        while status is None and time.time() < deadline and proc.poll() is None:
            status = ask(sock, frame(MSG["status-req"], serial), timeout_s=1)
        tap.check(status is not None and status[0] == "status-rep" and
                  json.loads(status[2])["self"] == "node0",
                  "a status-req is answered with status-rep (§8)", repr(status))
        if status is None:
            return

        def refused(reply, reason):
            return reply is not None and reply[:2] == ("error-rep", REASON[reason])

        def accepted(reply, outcome):
            return reply is not None and reply[:2] == ("ok-rep", OUTCOME[outcome])

        # §7.2: a status-req is exactly the 10-byte header.
        r = ask(sock, frame(MSG["status-req"], serial, b"\0"))
        tap.check(refused(r, "BAD_LENGTH"), "a status-req with a trailing byte: error-rep "
                  "BAD_LENGTH", repr(r))
        r = ask(sock, frame(MSG["status-req"], serial)[:9])
        tap.check(refused(r, "TOO_SHORT"), "a status-req cut to 9 bytes: error-rep TOO_SHORT",
                  repr(r))
        r = ask(sock, frame(MSG["status-req"], serial, b"{}"))
        tap.check(refused(r, "BAD_LENGTH"), "a status-req with a body: error-rep BAD_LENGTH",
                  repr(r))
        # §7.9: a client may send status-req, roster, release and command only.
        r = ask(sock, bytes([2]) + frame(MSG["status-req"], serial)[1:])
        tap.check(refused(r, "BAD_VERSION"), "a frame of protocol version 2: error-rep "
                  "BAD_VERSION", repr(r))
        r = ask(sock, frame(MSG["ping"], serial, bytes(4 + 8 + 2 + 1)))
        tap.check(refused(r, "NOT_ALLOWED") and "ping" in r[2],
                  "a ping from a client: error-rep NOT_ALLOWED", repr(r))

        rel = seal("release", release_json(), [op])
        r = ask(sock, frame(MSG["release"], serial, rel))
        tap.check(accepted(r, "applied"), "a release made here: ok-rep applied", repr(r))
        r = ask(sock, frame(MSG["release"], serial, rel))
        tap.check(accepted(r, "held"), "the same release again: ok-rep held", repr(r))
        other = json.loads(release_json())
        other["component"] = "staggerd"
        r = ask(sock, frame(MSG["release"], serial, seal("release", json.dumps(other).encode(),
                                                         [op])))
        tap.check(accepted(r, "not-here"), "a release of another component: ok-rep not-here",
                  repr(r))
        older = json.loads(release_json())
        older["created_at"] -= 86400
        older["version"] = "10.5.2"
        r = ask(sock, frame(MSG["release"], serial, seal("release", json.dumps(older).encode(),
                                                         [op])))
        tap.check(refused(r, "STALE"), "an older release after it: error-rep STALE", repr(r))
        r = ask(sock, frame(MSG["release"], serial, seal("release", release_json(),
                                                         [members[1]])))
        tap.check(refused(r, "UNKNOWN_SIGNER"), "a release signed by a member: error-rep "
                  "UNKNOWN_SIGNER", repr(r))

        halt = seal("command", command_json(9), [op])
        r = ask(sock, frame(MSG["command"], serial, halt))
        tap.check(accepted(r, "applied"), "a halt signed here: ok-rep applied", repr(r))
        r = ask(sock, frame(MSG["command"], serial, halt))
        tap.check(refused(r, "REPLAY") and "#9" in r[2],
                  "the same halt again: error-rep REPLAY naming the sequence", repr(r))
        r = ask(sock, frame(MSG["command"], serial, seal("command", command_json(7), [op])))
        tap.check(refused(r, "REPLAY"), "an older sequence: error-rep REPLAY", repr(r))

        r = ask(sock, frame(MSG["roster"], serial, seal("roster", roster, [op])))
        tap.check(accepted(r, "held"), "the roster it holds: ok-rep held", repr(r))
        doc["serial"] = 2
        r = ask(sock, frame(MSG["roster"], serial, seal("roster", json.dumps(doc).encode(), [op])))
        tap.check(accepted(r, "applied") and "serial 2" in r[2],
                  "roster serial 2: ok-rep applied", repr(r))
        r = ask(sock, frame(MSG["roster"], 2, seal("roster", roster, [op])))
        tap.check(refused(r, "STALE"), "serial 1 after 2: error-rep STALE", repr(r))

        st = ask(sock, frame(MSG["status-req"], 2))
        rejects = json.loads(st[2])["rejects"] if st and st[0] == "status-rep" else {}
        want = {"BAD_LENGTH": 2, "TOO_SHORT": 1, "BAD_VERSION": 1, "NOT_ALLOWED": 1,
                "UNKNOWN_SIGNER": 1, "REPLAY": 2, "STALE": 2}
        tap.check(rejects == want, "status counts exactly the refusals the replies named "
                  "(§8 rejects)", "%r, want %r" % (rejects, want))
    finally:
        sock.close(0)
        ctx.term()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        # Under sanitizers a leak or a memory error shows as a failed exit.
        tap.check(proc.returncode == 0, "staggerd stops cleanly on SIGTERM",
                  "exit %s" % proc.returncode)
        log.close()
        if tap.failed:
            for line in open("node0.log").read().splitlines()[-20:]:
                print("# node0: " + line)


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def check(self, cond, desc, detail=""):
        self.n += 1
        if cond:
            print("ok %d - %s" % (self.n, desc))
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.n, desc))
            for line in str(detail).splitlines():
                print("# " + line)


def main():
    ctl = os.path.realpath(sys.argv[1])
    daemon = os.path.realpath(sys.argv[2]) if len(sys.argv) > 2 else None
    tap = Tap()
    work = tempfile.mkdtemp(prefix="stagger-interop-")
    try:
        os.chdir(work)

        def run(*args):
            return subprocess.run([ctl] + list(args), capture_output=True, text=True)

        def write(path, data):
            with open(path, "wb") as f:
                f.write(data)

        # §2.2: the golden vector, rebuilt from its description alone.
        gk = SigningKey(bytes(range(32)))
        tap.check(b64(bytes(gk)) == "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                  "golden key file text")
        tap.check(b64(bytes(gk.verify_key)) == "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=",
                  "golden public key")
        golden = bytes.fromhex(
            "5354470102010000002f"
            "7b22636f6d706f6e656e74223a2263617264616e6f2d6e6f6465222c2276657273696f6e22"
            "3a2231302e352e33227d"
            "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
            "793ac1962806ebd79369486c05d899b1f214ffdd78e3a97220d9abb8a25d2608"
            "1d4741881d6fa7cc0be79b2af60ab7f36d10c8b332062559759cb65cba431c0e")
        mine = seal("release", b'{"component":"cardano-node","version":"10.5.3"}', [gk])
        tap.check(mine == golden and len(golden) == 153, "golden envelope byte for byte",
                  mine.hex())

        # (a) staggerctl's keys and signatures, read and checked here.
        r = run("keygen", "op")
        tap.check(r.returncode == 0, "staggerctl keygen", r.stderr)
        op_mode = stat.S_IMODE(os.stat("op.key").st_mode)
        tap.check(op_mode == 0o600, "staggerctl writes the secret key 0600", oct(op_mode))
        op = load_secret("op.key")
        op_pub = read_b64_line("op.pub", 32)
        tap.check(bytes(op.verify_key) == op_pub, "op.key's seed derives op.pub")
        tap.check(r.stdout.strip() == b64(op_pub), "keygen prints the public key")

        members = [SigningKey.generate() for _ in range(4)]
        payload = roster_json([op], members)
        write("ctl-roster.json", payload)
        r = run("roster", "sign", "--key", "op.key", "-o", "ctl-roster.signed", "ctl-roster.json")
        tap.check(r.returncode == 0, "staggerctl signs a roster built here", r.stderr)
        try:
            name, body, signers = open_envelope(open("ctl-roster.signed", "rb").read())
            tap.check(name == "roster" and body == payload and signers == [op_pub],
                      "its envelope verifies here: type, exact payload bytes, signer")
        except (ValueError, BadSignatureError) as e:
            tap.check(False, "its envelope verifies here: type, exact payload bytes, signer", e)

        write("ctl-release.json", release_json())
        r = run("release", "sign", "--key", "op.key", "--roster", "ctl-roster.signed",
                "-o", "ctl-release.signed", "ctl-release.json")
        tap.check(r.returncode == 0, "staggerctl signs a release", r.stderr)
        try:
            name, body, signers = open_envelope(open("ctl-release.signed", "rb").read())
            tap.check(name == "release" and body == release_json() and signers == [op_pub],
                      "the signed release verifies here")
        except (ValueError, BadSignatureError) as e:
            tap.check(False, "the signed release verifies here", e)

        # (b) documents made and signed here, checked by staggerctl.
        py = write_keypair("py")
        py2 = write_keypair("py2")
        roster = roster_json([py, py2], members)
        write("py-roster.signed", seal("roster", roster, [py]))
        r = run("roster", "verify", "py-roster.signed")
        tap.check(r.returncode == 0, "staggerctl accepts a roster signed here", r.stderr)
        r = run("roster", "verify", "--print", "py-roster.signed")
        tap.check(r.stdout.encode() == roster + b"\n", "and prints the exact payload back")

        write("py-roster2.signed", seal("roster", roster, [py, py2]))
        r = run("roster", "verify", "py-roster2.signed")
        tap.check(r.returncode == 0, "staggerctl accepts two operator signatures made here",
                  r.stderr)

        write("py-release.signed", seal("release", release_json(), [py]))
        r = run("release", "verify", "--roster", "py-roster.signed", "py-release.signed")
        tap.check(r.returncode == 0, "staggerctl accepts a release signed here", r.stderr)

        # Our key file, used by staggerctl: the §1 format works both ways.
        r = run("roster", "sign", "--key", "py.key", "-o", "ctl-py.signed", "ctl-roster.json")
        tap.check(r.returncode == 1 and "not an operator" in r.stderr,
                  "staggerctl reads our key file and sees it is not an operator there",
                  r.stderr)
        write("py-roster.json", roster)
        r = run("roster", "sign", "--key", "py.key", "-o", "ctl-py.signed", "py-roster.json")
        tap.check(r.returncode == 0, "staggerctl signs with a key file written here", r.stderr)
        try:
            _, body, signers = open_envelope(open("ctl-py.signed", "rb").read())
            tap.check(signers == [bytes(py.verify_key)] and body == roster,
                      "and its signature is this key's")
        except (ValueError, BadSignatureError) as e:
            tap.check(False, "and its signature is this key's", e)

        # Negatives: what staggerctl must refuse.
        wrong_domains = [
            ("release domain on a roster", b"stagger/v1/release\0"),
            ("no NUL after the name", b"stagger/v1/roster"),
            ("version 2 domain", b"stagger/v2/roster\0"),
            ("no domain at all", b""),
        ]
        for desc, dom in wrong_domains:
            write("bad.signed", seal("roster", roster, [py], domain=dom))
            r = run("roster", "verify", "bad.signed")
            tap.check(r.returncode == 1 and "bad.signed" in r.stderr,
                      "staggerctl refuses a roster signed with %s" % desc,
                      "exit %d: %s" % (r.returncode, r.stderr))
        write("bad.signed", seal("release", release_json(), [py], domain=b"stagger/v1/roster\0"))
        r = run("release", "verify", "--roster", "py-roster.signed", "bad.signed")
        tap.check(r.returncode == 1, "staggerctl refuses a release signed with the roster domain",
                  r.stderr)
        stranger = SigningKey.generate()
        write("bad.signed", seal("release", release_json(), [stranger]))
        r = run("release", "verify", "--roster", "py-roster.signed", "bad.signed")
        tap.check(r.returncode == 1, "staggerctl refuses a release by a non-operator made here",
                  r.stderr)
        write("bad.signed", seal("roster", roster, [py]) + b"\0")
        r = run("roster", "verify", "bad.signed")
        tap.check(r.returncode == 1, "staggerctl refuses a padded envelope", r.stderr)
        write("bad.signed", seal("roster", roster, [stranger]))
        r = run("roster", "verify", "bad.signed")
        tap.check(r.returncode == 1, "staggerctl refuses a roster not signed by its operators",
                  r.stderr)
        os.chmod("py.key", 0o640)
        r = run("roster", "sign", "--key", "py.key", "-o", "x.signed", "py-roster.json")
        tap.check(r.returncode == 3 and "chmod 600" in r.stderr,
                  "staggerctl refuses our key file once group-readable", r.stderr)

        # §1: what may follow the 44 characters of a key file, both ways.
        text = b64(bytes(py)).encode()
        for tail, ok in ((b"", True), (b"\n", True), (b"\r\n", True), (b"\n\n", False),
                         (b"\r", False), (b"\n\r\n", False), (b" \n", False)):
            if os.path.exists("shape.key"):
                os.unlink("shape.key")
            fd = os.open("shape.key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(text + tail)
            try:
                load_secret("shape.key")
                mine = True
            except ValueError:
                mine = False
            r = run("roster", "sign", "--key", "shape.key", "-o", "x.signed", "py-roster.json")
            tap.check(mine == ok and (r.returncode == 0) == ok,
                      "a key file ending %r: %s here and by staggerctl" % (
                          tail.decode(), "accepted" if ok else "refused"),
                      "here %s, staggerctl exit %d: %s" % (mine, r.returncode, r.stderr))

        if zmq is None or len(sys.argv) < 3:
            print("# wire checks skipped: need python3-zmq and the staggerd path")
        else:
            wire_checks(tap, daemon, work, py, members)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("1..%d" % tap.n)
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
