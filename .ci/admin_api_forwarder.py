"""A TCP → Unix socket forwarder: schemathesis speaks HTTP over TCP, parleyd's admin API listens on
a Unix socket. Usage: admin_api_forwarder.py SOCKET PORTFILE; listens on 127.0.0.1 (a free port,
written to PORTFILE) until killed."""
import asyncio
import sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def main(socket_path, port_file):
    async def handle(client_reader, client_writer):
        try:
            daemon_reader, daemon_writer = await asyncio.open_unix_connection(socket_path)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, daemon_writer), pipe(daemon_reader, client_writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    with open(port_file, "w") as f:
        f.write(str(server.sockets[0].getsockname()[1]))
    async with server:
        await server.serve_forever()


asyncio.run(main(sys.argv[1], sys.argv[2]))
