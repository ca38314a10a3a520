"""ASGI peer for the benchmark (Hypercorn): the same bytes as every other server.

GET / -> 200 text/plain "hello"; GET /1m -> 1 MiB; POST /upload -> reads the body, answers its size.
Run: hypercorn --certfile CERT --keyfile KEY --bind 127.0.0.1:PORT hello:app
"""

ONE_MIB = 1024 * 1024
_pattern = b"httpsd-bench-"
DOWNLOAD_BODY = (_pattern * (ONE_MIB // len(_pattern) + 1))[:ONE_MIB]

HELLO_HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"5")]
DOWNLOAD_HEADERS = [(b"content-type", b"application/octet-stream"), (b"content-length", str(ONE_MIB).encode())]


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    # Read the request to its end first (GET included): Hypercorn's HTTP/1.1 side only keeps a connection alive
    # once the request has been consumed, otherwise it closes it after every response.
    size = 0
    more = True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    path = scope["path"]
    if path == "/upload":
        body = str(size).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
        return
    if path == "/1m":
        await send({"type": "http.response.start", "status": 200, "headers": DOWNLOAD_HEADERS})
        await send({"type": "http.response.body", "body": DOWNLOAD_BODY})
        return
    await send({"type": "http.response.start", "status": 200, "headers": HELLO_HEADERS})
    await send({"type": "http.response.body", "body": b"hello"})
