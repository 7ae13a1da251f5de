"""What the benchmark and soak scripts share: the repository root, a free loopback port, waiting for a
listener, a process's resident memory, a server process pinned to a core, nginx's worker, and drip's
release binaries (built by scripts/lib/build-release, the one way they are built).

    sys.path.insert(0, os.path.join(ROOT, "scripts", "lib")); import benchlib
"""
import os
import signal
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


class Server:
    """A server process pinned to `core` (taskset), in a session of its own, started and waited for on
    `port`; `pid` is the process whose memory is measured (`measured_pid()` when the server forks)."""

    def __init__(self, name, command, port, core, measured_pid=None, cwd=None):
        self.name, self.port = name, port
        self.process = subprocess.Popen(["taskset", "-c", core, *command], cwd=cwd,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for_port(port)
        self.pid = measured_pid() if measured_pid else self.process.pid

    def url(self, stream):
        return f"http://127.0.0.1:{self.port}/streams/{stream}"

    def stop(self):
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)


def nginx_worker_pid():
    """The pid of the newest nginx worker process (one worker per configuration here)."""
    for _ in range(100):
        out = subprocess.run(["pgrep", "-f", "nginx: worker"], capture_output=True, text=True).stdout.split()
        if out:
            return int(out[-1])
        time.sleep(0.05)
    raise RuntimeError("no nginx worker")
