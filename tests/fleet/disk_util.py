#!/usr/bin/python3
"""disk_util.py: small disks for the fleet tests of a state directory that
cannot be written (tests/fleet/test_disk.py, issue 10): a private mount
namespace for the test process, and tmpfs file systems in it that the test
fills, empties, remounts read-only and unmounts.

The namespace is the test's own (unshare(2) in the test process before any
daemon starts, so every daemon it starts inherits it, and `/` made private
so nothing leaks to the host): its mounts disappear with the last process
in it, even when the test is killed with SIGKILL. The test still unmounts
everything it mounted in its cleanup. Needs root (CAP_SYS_ADMIN).
"""
import ctypes
import errno
import os
import subprocess
import time

CLONE_NEWNS = 0x00020000
PAGE = 4096
_libc = ctypes.CDLL(None, use_errno=True)


def private_mounts():
    """Put this process in a new mount namespace whose mounts stay private.
    None on success, else why not (the caller skips the test)."""
    if os.geteuid() != 0:
        return "needs root (mount namespaces and tmpfs mounts)"
    if _libc.unshare(CLONE_NEWNS) != 0:
        return "unshare(CLONE_NEWNS): %s" % os.strerror(ctypes.get_errno())
    r = subprocess.run(["mount", "--make-rprivate", "/"], capture_output=True, text=True)
    if r.returncode != 0:
        return "mount --make-rprivate /: %s" % r.stderr.strip()
    return None


def _mount(*args):
    r = subprocess.run(["mount"] + list(args), capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("mount %s: %s" % (" ".join(args), r.stderr.strip()))


class Tmpfs:
    """A tmpfs of size_kib at path (created if missing), in this process's
    mount namespace."""

    def __init__(self, path, size_kib):
        self.path = path
        os.makedirs(path, exist_ok=True)
        _mount("-t", "tmpfs", "-o", "size=%dk,mode=0700" % size_kib, "tmpfs", path)
        self.mounted = True
        self.binds = []
        self.filler = os.path.join(path, "filler")

    def fill(self):
        """Write a file until the file system says ENOSPC; returns its size.
        Nothing else then fits: every later write of a page fails."""
        n = 0
        with open(self.filler, "ab", buffering=0) as f:
            while True:
                try:
                    n += f.write(b"\0" * PAGE)
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
        return n

    def free(self):
        if os.path.exists(self.filler):
            os.unlink(self.filler)

    def remount(self, mode, tries=50):
        """mode "ro" or "rw". A remount read-only fails with EBUSY while a
        file is open for writing (the daemon may be in the middle of a
        write): try again a few times."""
        for _ in range(tries):
            r = subprocess.run(["mount", "-o", "remount," + mode, self.path],
                               capture_output=True, text=True)
            if r.returncode == 0:
                return
            time.sleep(0.02)  # between attempts of an operation that was busy
        raise RuntimeError("mount -o remount,%s %s: %s" % (mode, self.path, r.stderr.strip()))

    def bind_file(self, source, target):
        """Put the file source (on this tmpfs) at target, an existing file
        elsewhere: whatever is written to target lands here."""
        _mount("--bind", source, target)
        self.binds.append(target)

    def unbind(self):
        for t in reversed(self.binds):
            subprocess.run(["umount", t], capture_output=True)
        self.binds = []

    def unmount(self):
        """Unmount (lazily if still busy: a daemon killed just now may not
        have let go yet); safe to call twice."""
        self.unbind()
        if not self.mounted:
            return
        r = subprocess.run(["umount", self.path], capture_output=True)
        if r.returncode != 0:
            subprocess.run(["umount", "-l", self.path], capture_output=True)
        self.mounted = False
