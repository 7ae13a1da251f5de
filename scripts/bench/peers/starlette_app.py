"""sse-starlette on uvicorn serving the same fan-out as drip, for scripts/bench/fanout.

GET  /streams/NAME  subscribe (text/event-stream via sse-starlette's EventSourceResponse)
POST /streams/NAME  publish the body as the data of one event to every subscriber of NAME
"""
import asyncio

from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

subscribers: dict[str, set[asyncio.Queue]] = {}


async def stream(request):
    name = request.path_params["name"]
    queue: asyncio.Queue = asyncio.Queue()
    subscribers.setdefault(name, set()).add(queue)

    async def events():
        try:
            while True:
                yield {"data": await queue.get()}
        finally:
            subscribers[name].discard(queue)

    return EventSourceResponse(events(), ping=3600)


async def publish(request):
    name = request.path_params["name"]
    data = (await request.body()).decode()
    audience = subscribers.get(name, set())
    for queue in audience:
        queue.put_nowait(data)
    return JSONResponse({"clients": len(audience)})


app = Starlette(routes=[
    Route("/streams/{name}", stream, methods=["GET"]),
    Route("/streams/{name}", publish, methods=["POST"]),
])
