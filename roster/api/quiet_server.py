"""`python -m roster.api.quiet_server --host H --port P`: the API as `roster serve` runs it.

The same app and server as `uvicorn roster.api.app:app --no-access-log`, but the server's own
loop looks at its clock and its exit flag once a second instead of ten times: uvicorn's loop
(`Server.main_loop`) woke every 0.1 s for nothing, most of the idle API's CPU (bench/idle_cpu.py).
The Date header still changes every second; a stop (SIGTERM, Ctrl-C) takes effect within a second.
"""

from __future__ import annotations

import argparse
import asyncio

import uvicorn

# uvicorn refreshes its Date header when the tick count is a multiple of 10 (Server.on_tick).
_TICKS_PER_SECOND = 10


class QuietServer(uvicorn.Server):
    async def main_loop(self) -> None:
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + _TICKS_PER_SECOND) % 864000
            await asyncio.sleep(1.0)
            should_exit = await self.on_tick(counter)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m roster.api.quiet_server")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    args = ap.parse_args(argv)
    QuietServer(uvicorn.Config("roster.api.app:app", host=args.host, port=args.port, access_log=False)).run()


if __name__ == "__main__":
    main()
