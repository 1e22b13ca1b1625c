import ControlProtocol
import Foundation
import NIOCore
import NIOPosix
import XCTest
@testable import ServerCore

/// A control-connection pipeline served in-process on a 127.0.0.1 TCP listener (not a Unix
/// socket): there the kernel reports no peer credentials of a local user, so every caller is a
/// stranger, even when the tests run as root. Stopped in `tearDown`.
class InProcessControlTestCase: XCTestCase {
    var group: MultiThreadedEventLoopGroup!
    var pool: NIOThreadPool!
    var server: Channel!

    /// Starts the listener with `router`, auditing through `audit`.
    func startControl(
        router: ControlRouter, requestTimeout: TimeAmount = ControlServer.requestTimeout,
        audit: @escaping @Sendable (AuditRecord) -> Void
    ) throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let (pool, access) = (self.pool!, LiveControlAccess(ControlAccess(daemonUID: 0)))
        server = try ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                ControlServer.configureConnection(
                    channel, router: router, access: access, threadPool: pool, requestTimeout: requestTimeout, audit: audit)
            }
            .bind(host: "127.0.0.1", port: 0).wait()
    }

    override func tearDown() {
        try? server?.close().wait()
        try? group?.syncShutdownGracefully()
        try? pool?.syncShutdownGracefully()
        super.tearDown()
    }
}
