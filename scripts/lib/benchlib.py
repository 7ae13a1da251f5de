"""What the benchmark and soak scripts share: the repository root, a free loopback port, waiting for a
listener, a process's resident memory, and drip's release binaries (built by scripts/lib/build-release,
the one way they are built).

    sys.path.insert(0, os.path.join(ROOT, "scripts", "lib")); import benchlib
"""
import os
import socket
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port, timeout=15):
    """Returns once something accepts on 127.0.0.1:port; raises after `timeout` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def rss_kb(pid, field="VmRSS"):
    """A field of /proc/PID/status in KiB (VmRSS, VmHWM, …); 0 when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def release_bin_dir(*products):
    """Builds `products` (default drip) in release mode and returns the directory holding them."""
    command = [os.path.join(ROOT, "scripts", "lib", "build-release"), *(products or ("drip",))]
    return subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
