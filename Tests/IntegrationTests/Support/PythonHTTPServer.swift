import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
import TestSupport
#endif

/// `python3 -m http.server PORT --bind 127.0.0.1 --directory DIR`: the official tester's
/// upstream (compat 7.1). Skips the test when python3 is missing; `stop()` ends it by pid.
final class PythonHTTPServer {
    let port: Int
    private let process: Process

    init(directory: String) throws {
        port = freePort()
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", directory]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw XCTSkip("cannot run python3: \(error)")
        }
        let deadline = Date().addingTimeInterval(20)
        while (try? RawClient(port: port, timeout: 1)) == nil {
            guard process.isRunning else {
                throw XCTSkip("python3 -m http.server exited (status \(process.terminationStatus)); is python3 installed?")
            }
            guard Date() < deadline else {
                stop()
                throw TestError("python3 -m http.server did not start listening on \(port)")
            }
            usleep(50_000)
        }
    }

    var isRunning: Bool { process.isRunning }

    /// SIGTERM, then SIGKILL after a bounded wait.
    func stop() {
        guard process.isRunning else { return }
        let pid = process.processIdentifier
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}
