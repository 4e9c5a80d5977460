#!/usr/bin/env python3
"""Writes the hand-made seed programs of fuzz-hub.c into corpus/hub/.

Each program is a list of steps; a step is an opcode (as in enum op of
fuzz-hub.c), the socket slot and the opcode's argument bytes. Run it again
after changing the program format; crashers found by the fuzzer, and
programs it found that catch a known mistake (error-flood: frames to a
socket closed 4029), are kept next to these as they are."""
import os
import sys

OPS = ['open_visitor', 'open_staff', 'hello', 'resume', 'vmsg', 'vtyping', 'vend',
       'login_token', 'login_password', 'status', 'accept', 'decline', 'smsg', 'styping',
       'invite', 'transfer', 'send', 'logout', 'raw', 'close', 'advance', 'tick', 'coord']
# login_token argument: the preset sessions (ana, ana, bo, cora).
ANA, ANA2, BO, CORA = 4, 1, 2, 7
# hello: lang nl=1 ar=2; topic: none=0, forced_marriage=2.
# advance: index into advance_ms (4: 2 s, 10: 31 s, 13: 121 s).
# targets for invite/transfer: user ana=0 bo=1 cora=2, role professional=6.


def prog(*steps):
    out = bytearray()
    for op, sock, *args in steps:
        out.append(OPS.index(op))
        out.append(sock)
        for a in args:
            if isinstance(a, (bytes, bytearray)):
                out += a
            else:
                out.append(a)
    return bytes(out)


def raw(sock, text):
    b = text.encode()
    return ('raw', sock, len(b), b)


chat_start = [
    ('open_staff', 0, 0), ('login_token', 0, ANA), ('status', 0, 0),
    ('open_visitor', 1, 0), ('hello', 1, 1, 0), ('tick', 0), ('accept', 0, 0),
]

seeds = {
    'chat': prog(*chat_start,
                 ('vmsg', 1, 10), ('smsg', 0, 0, 5), ('vtyping', 1, 1), ('styping', 0, 1),
                 ('vmsg', 1, 30), ('send', 0, 0, 1), ('hello', 1, 2, 2), ('tick', 0)),
    'resume': prog(*chat_start,
                   ('vmsg', 1, 10), ('smsg', 0, 0, 5), ('close', 1), ('advance', 4),
                   ('tick', 0), ('open_visitor', 2, 0), ('resume', 2, 0, 2),
                   ('vmsg', 2, 12), ('smsg', 0, 0, 3), ('vend', 2, 0)),
    'transfer': prog(*chat_start,
                     ('open_staff', 2, 0), ('login_token', 2, CORA), ('status', 2, 0),
                     ('vmsg', 1, 3), ('transfer', 0, 0, 2), ('accept', 2, 0),
                     ('smsg', 2, 0, 4), ('vmsg', 1, 5),
                     ('open_staff', 3, 1), ('login_token', 3, BO), ('status', 3, 0),
                     ('invite', 2, 0, 6), ('accept', 3, 0), ('smsg', 3, 0, 6),
                     ('vmsg', 1, 7), ('close', 3), ('tick', 0), ('send', 2, 0, 0)),
    'requeue': prog(('open_staff', 0, 0), ('login_password', 0, 0), ('status', 0, 0),
                    ('open_visitor', 1, 1), ('hello', 1, 1, 0), ('tick', 0), ('accept', 0, 0),
                    ('vmsg', 1, 2), ('close', 0), ('advance', 10), ('tick', 0),
                    ('open_staff', 3, 1), ('login_token', 3, BO), ('status', 3, 0),
                    ('tick', 0), ('accept', 3, 0), ('vmsg', 1, 4), ('smsg', 3, 0, 2)),
    'staff-reload': prog(*chat_start,
                         ('vmsg', 1, 1), ('close', 0), ('advance', 4), ('vmsg', 1, 2),
                         ('open_staff', 4, 0), ('login_token', 4, ANA), ('smsg', 4, 0, 1),
                         ('open_staff', 5, 0), ('login_token', 5, ANA2), ('logout', 5),
                         ('tick', 0), ('advance', 13), ('tick', 0)),
    'coordinator': prog(*chat_start,
                        ('open_staff', 2, 0), ('login_token', 2, CORA), ('tick', 0),
                        ('coord', 2, 3, 1 + 3 * 1 + 9 * 0), ('coord', 2, 6, 0), ('status', 2, 0),
                        ('coord', 2, 0, 0 + 3 * 1), ('coord', 0, 7, 0), ('coord', 2, 1, 0 + 3),
                        ('tick', 0), ('coord', 2, 7, 1), ('coord', 2, 5, 1), ('coord', 2, 9, 0),
                        ('advance', 7), ('tick', 0)),
    'raw': prog(('open_staff', 0, 0), raw(0, '{"type":"login","token":"x"}'),
                ('open_visitor', 1, 0), raw(1, '{"type":"hello","lang":"en","id":"1"}'),
                raw(1, '{"type":"accept","offer":"1"}'), raw(1, '[1,2]'), ('tick', 0)),
}

if __name__ == '__main__':
    d = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'hub')
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), 'wb') as f:
            f.write(data)
    sys.exit(0)
