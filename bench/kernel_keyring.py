"""Is the Linux kernel keyring worth offering as a key store? (issue 14)

Measures, with nothing but ctypes and the raw syscalls (no keyutils needed):

1. whether ``add_key``/``keyctl`` work here (user and session keyrings), with a
   timeout (``KEYCTL_SET_TIMEOUT``), and what a read costs;
2. the same in a child that first installs the seccomp filter Docker's default
   profile amounts to for these calls (``add_key``, ``keyctl`` and
   ``request_key`` answer EPERM: Docker blocks them because the kernel keyring
   is not namespaced by containers).

Run: ``python bench/kernel_keyring.py``. Prints one line per finding; the key
it stores is random and invalidated at the end.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import secrets
import struct
import sys
import time

# (add_key, request_key, keyctl) by architecture.
_NR = {"x86_64": (248, 249, 250), "aarch64": (217, 218, 219)}
KEY_SPEC_SESSION_KEYRING, KEY_SPEC_USER_KEYRING = -3, -4
KEYCTL_READ, KEYCTL_SET_TIMEOUT, KEYCTL_INVALIDATE = 11, 15, 21

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def _nr() -> tuple[int, int, int]:
    machine = platform.machine()
    if machine not in _NR:
        sys.exit(f"unsupported architecture {machine}")
    return _NR[machine]


def add_key(description: bytes, payload: bytes, keyring: int) -> int:
    nr = _nr()[0]
    res = libc.syscall(ctypes.c_long(nr), ctypes.c_char_p(b"user"), ctypes.c_char_p(description),
                       ctypes.c_char_p(payload), ctypes.c_size_t(len(payload)),
                       ctypes.c_int(keyring))
    if res < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return int(res)


def keyctl(op: int, *args: int | ctypes.Array[ctypes.c_char]) -> int:
    nr = _nr()[2]
    cargs = [a if isinstance(a, ctypes.Array) else ctypes.c_long(a) for a in args]
    res = libc.syscall(ctypes.c_long(nr), ctypes.c_long(op), *cargs)
    if res < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return int(res)


def docker_like_seccomp() -> None:
    """EPERM for add_key, request_key and keyctl, as Docker's default profile."""
    ins = [(0x20, 0, 0, 0)]  # ld [nr]
    for n in _nr():
        ins.append((0x15, 0, 1, n))  # jeq n, next, skip
        ins.append((0x06, 0, 0, 0x00050000 | errno.EPERM))  # ret ERRNO(EPERM)
    ins.append((0x06, 0, 0, 0x7FFF0000))  # ret ALLOW
    raw = b"".join(struct.pack("HBBI", *i) for i in ins)
    buf = ctypes.create_string_buffer(raw)
    prog = struct.pack("HxxxxxxP", len(ins), ctypes.addressof(buf))
    pbuf = ctypes.create_string_buffer(prog)
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    if libc.prctl(22, 2, ctypes.c_void_p(ctypes.addressof(pbuf)), 0, 0) != 0:  # SECCOMP, FILTER
        raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP")


def measure(label: str) -> None:
    value = ("sk-or-v1-" + secrets.token_hex(32)).encode()
    desc = f"orenv:measure:{os.getpid()}".encode()
    for name, ring in (("user", KEY_SPEC_USER_KEYRING), ("session", KEY_SPEC_SESSION_KEYRING)):
        try:
            kid = add_key(desc, value, ring)
        except OSError as exc:
            print(f"{label}: add_key to the {name} keyring: {errno.errorcode.get(exc.errno)} "
                  f"({exc.strerror})")
            continue
        keyctl(KEYCTL_SET_TIMEOUT, kid, 60)
        buf = ctypes.create_string_buffer(256)
        start = time.perf_counter()
        for _ in range(1000):
            n = keyctl(KEYCTL_READ, kid, buf, 256)
        took = (time.perf_counter() - start) / 1000 * 1e6
        ok = buf.raw[:n] == value
        keyctl(KEYCTL_INVALIDATE, kid)
        print(f"{label}: {name} keyring works (read back {'intact' if ok else 'WRONG'}, "
              f"{took:.1f} us per read, timeout settable)")


def main() -> int:
    print(f"kernel {platform.release()} {platform.machine()}, uid {os.getuid()}, "
          f"container: {os.path.exists('/.dockerenv') or os.path.exists('/run/.containerenv')}")
    measure("plain")
    pid = os.fork()
    if pid == 0:
        try:
            docker_like_seccomp()
            measure("docker-default-seccomp")
        except OSError as exc:
            print(f"docker-default-seccomp: could not install the filter ({exc})")
        finally:
            sys.stdout.flush()
            os._exit(0)
    os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
