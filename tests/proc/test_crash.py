"""A process doing acknowledged, idempotency-keyed increments is SIGKILLed
at random moments and restarted, many times. Afterwards every acknowledged
increment is there, and none was applied twice: each restart retries the
operations that were in flight under their original idempotency keys.

The schedule is seeded; the seed is printed so a failure can be replayed
with PASAR_CRASH_SEED=<seed>."""
import os
import random
import select
import signal
import subprocess
import time

KILLS = int(os.environ.get("PASAR_CRASH_KILLS", "25"))
OPS = int(os.environ.get("PASAR_CRASH_OPS", "60000"))


def _run_until_killed(exe, data, starts, delay_s, acked):
    """Run counterd for delay_s (or to completion), SIGKILL it if still
    running, and count the ACK lines it printed. Returns True when it
    finished on its own."""
    proc = subprocess.Popen(
        [str(exe), str(data), "run", str(OPS)] + [str(s) for s in starts],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    fd = proc.stdout.fileno()
    buf = b""
    deadline = None
    while True:
        ready, _, _ = select.select([fd], [], [], 0.005)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break                       # EOF: the process exited
            buf += chunk
            if deadline is None and b"READY\n" in buf:
                deadline = time.monotonic() + delay_s
        if deadline is not None and time.monotonic() >= deadline:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    buf += proc.stdout.read()
    err = proc.stderr.read().decode()
    assert proc.returncode in (0, -signal.SIGKILL), err
    # Only whole lines are acknowledgements: a torn last line was not.
    for line in buf.decode().split("\n")[:-1]:
        parts = line.split()
        if parts and parts[0] == "ACK":
            acked[int(parts[1])] = acked.get(int(parts[1]), 0) + 1
    return proc.returncode == 0


def test_sigkill_loses_no_ack_and_applies_nothing_twice(tmp_path, build_dir):
    seed = int(os.environ.get("PASAR_CRASH_SEED", random.randrange(1 << 30)))
    print(f"crash test seed: {seed}")
    rng = random.Random(seed)
    exe = build_dir / "tests" / "bin" / "counterd"
    data = tmp_path / "data"
    acked = {}
    kills = 0
    done = False
    while not done:
        # Each thread t resumes at its lowest op not yet acknowledged:
        # that op may or may not have been applied before the kill, and
        # its retry under the same key must not apply it twice.
        starts = []
        for t in range(4):
            i = t
            while i in acked:
                i += 4
            starts.append(i)
        if kills < KILLS:
            done = _run_until_killed(exe, data, starts, rng.uniform(0.01, 0.12), acked)
            kills += 0 if done else 1
        else:
            done = _run_until_killed(exe, data, starts, 120, acked)
            assert done, "the last, unkilled run did not finish"
    assert kills >= min(KILLS, 20)
    assert sorted(acked) == list(range(OPS)), "some operation never acknowledged"
    out = subprocess.run([str(exe), str(data), "check"], capture_output=True,
                         text=True, check=True).stdout.split("\n")
    values = {l.split()[1]: int(l.split()[2]) for l in out if l.startswith("VALUE")}
    for j in range(5):
        expected = len([i for i in range(OPS) if i % 5 == j])
        assert values[f"c{j}"] == expected, (seed, values)
