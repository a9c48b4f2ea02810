#!/usr/bin/env python3
"""Echo check over Linux sockets: CONNECTIONS concurrent connections to HOST PORT, each
sends ROUNDS messages of random bytes (SIZE each) and reads every one back; any byte that
differs, a short answer or a failed connection is an error. Prints one summary line and
exits non-zero on any error.

    echo_check.py HOST PORT CONNECTIONS ROUNDS SIZE
"""
import asyncio
import os
import sys
import time


async def one_connection(host, port, rounds, size, timeout):
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    local = writer.get_extra_info("sockname")[1]
    try:
        for _ in range(rounds):
            message = os.urandom(size)
            writer.write(message)
            await writer.drain()
            answer = await asyncio.wait_for(reader.readexactly(size), timeout)
            if answer != message:
                raise ValueError(f"connection from port {local}: echo differs")
        return size * rounds
    finally:
        writer.close()
        await writer.wait_closed()


async def main(host, port, connections, rounds, size):
    started = time.monotonic()
    results = await asyncio.gather(
        *(one_connection(host, port, rounds, size, 60) for _ in range(connections)),
        return_exceptions=True,
    )
    elapsed = time.monotonic() - started
    errors = [r for r in results if isinstance(r, BaseException)]
    echoed = sum(r for r in results if not isinstance(r, BaseException))
    print(
        f"echo: {connections} connections x {rounds} x {size} bytes to {host}:{port}: "
        f"{echoed} bytes echoed and equal, {len(errors)} failed, in {elapsed:.1f} s"
    )
    for error in errors[:5]:
        print(f"  {type(error).__name__}: {error}")
    return 1 if errors else 0


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    host, port, connections, rounds, size = sys.argv[1], *map(int, sys.argv[2:])
    sys.exit(asyncio.run(main(host, port, connections, rounds, size)))
