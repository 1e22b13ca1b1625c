import Foundation
import XCTest

@testable import ServerCore
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A real WebSocket client and server (Python's `websockets`, installed by .ci/run) talking
/// through the proxy: the handshake, text and binary messages (one of 4 MiB, which spans many
/// reads and frames), a ping and the closing handshake, all checked by the library itself.
final class ProxyWebSocketInteropTests: ProxyTestCase {
    static let server = """
        import asyncio, sys
        try:
            import websockets
        except ImportError:
            sys.exit(77)
        async def echo(ws, path=None):
            async for message in ws:
                await ws.send(message)
        async def main():
            async with websockets.serve(echo, "127.0.0.1", int(sys.argv[1]), max_size=None):
                await asyncio.Future()
        asyncio.run(main())
        """

    static let client = """
        import asyncio, os, sys, websockets
        async def main():
            async with websockets.connect(f"ws://127.0.0.1:{sys.argv[1]}/chat?room=1", max_size=None) as ws:
                for i in range(50):
                    await ws.send(f"message {i}")
                    assert await ws.recv() == f"message {i}"
                big = os.urandom(4 << 20)
                await ws.send(big)
                assert await ws.recv() == big
                pong = await ws.ping()
                await asyncio.wait_for(pong, 10)
            print("ok")
        asyncio.run(asyncio.wait_for(main(), 60))
        """

    func python(_ script: String, _ args: [String], output: Pipe? = nil) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script] + args
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = output ?? FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    func stop(_ p: Process) {
        guard p.isRunning else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
    }

    func testAWebSocketLibraryTalksThroughTheProxy() throws {
        let upstreamPort = freePort()
        let server = try python(Self.server, [String(upstreamPort)])
        defer { stop(server) }
        XCTAssertTrue(pollUntil(timeout: 20) { !server.isRunning || (try? RawClient(port: upstreamPort, timeout: 1)) != nil })
        if !server.isRunning && server.terminationStatus == 77 { throw XCTSkip("python3 websockets is not installed") }
        XCTAssertTrue(server.isRunning, "the WebSocket server did not start")

        let s = try startServer(proxyConfig(["\"127.0.0.1:\(upstreamPort)\""]))
        let out = Pipe()
        let client = try python(Self.client, [String(s.port)], output: out)
        defer { stop(client) }
        XCTAssertTrue(pollUntil(timeout: 90) { !client.isRunning })
        let printed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(client.terminationStatus, 0)
        XCTAssertEqual(printed, "ok\n")
    }
}
