import ControlProtocol
import Foundation
import XCTest

/// `expctl reload` with a good and a bad config, SIGHUP, and what the audit log says about it.
final class ReloadE2ETests: E2ETestCase {
    func testReloadWithAGoodConfigServesTheNewListener() throws {
        let (old, new) = (freePort(), freePort())
        try startDaemon(ports: [old])
        try writeConfig(configJSON(ports: [new]))
        let reply = try expctlJSON(ReloadResponse.self, ["reload", "--reason", "move"])
        XCTAssertEqual(reply.listeners, ["127.0.0.1:\(new)"])
        XCTAssertEqual(reply.reloads, 1)
        XCTAssertEqual(try httpGet(port: new, path: "/hello.txt").status, 200)
        XCTAssertFalse(portAccepts(old), "the old listener is closed")

        let plain = try expctl(["reload"])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertTrue(plain.stdout.hasPrefix("reloaded \(configPath)"), plain.stdout)
    }

    func testReloadWithABadConfigFailsWithOneLineAndKeepsServing() throws {
        let port = freePort()
        let daemon = try startDaemon(ports: [port])
        try writeConfig(configJSON(ports: [70000]))
        let r = try expctl(["reload", "--reason", "typo"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.status, 1, "the daemon refused")
        XCTAssertEqual(r.stdout, "")
        let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.count, 2, "one line and its newline: \(r.stderr)")
        XCTAssertTrue(r.stderr.hasPrefix("expctl: config refused"), r.stderr)
        XCTAssertTrue(r.stderr.contains("70000"), r.stderr)

        let served = try httpGet(port: port, path: "/hello.txt")
        XCTAssertEqual(served.status, 200)
        XCTAssertEqual(served.body, Self.helloText)
        let status = try expctlJSON(StatusResponse.self, ["status"])
        XCTAssertEqual(status.listeners, ["127.0.0.1:\(port)"])
        XCTAssertEqual(status.reloads, 0)
        // The daemon's own log says so too (as nginx's [emerg]), with the reason given.
        XCTAssertTrue(waitUntil(timeout: 5) { daemon.stderr.contains("reload refused") }, daemon.stderr)
        XCTAssertTrue(daemon.stderr.contains("70000") && daemon.stderr.contains("typo"), daemon.stderr)
    }

    func testAuditRecordsReloadsWithCallerAndReason() throws {
        let port = freePort()
        try startDaemon(ports: [port])
        let good = try expctl(["reload", "--reason", "good one"])
        XCTAssertEqual(good.status, 0, good.stderr)
        try writeConfig("{ \"servers\": [] }")
        XCTAssertEqual(try expctl(["reload", "--reason", "bad one"]).status, 1)

        let audit = try expctlJSON(AuditResponse.self, ["audit", "--since", "1h"])
        XCTAssertEqual(audit.entries.map(\.action), ["reload", "reload"])
        XCTAssertEqual(audit.entries.map(\.result), ["ok", "error: invalid_config"])
        XCTAssertEqual(audit.entries.map(\.reason), ["good one", "bad one"])
        for e in audit.entries {
            XCTAssertEqual(e.uid, Int64(getuid()))
            XCTAssertNotNil(e.pid)
            XCTAssertNotEqual(e.pid, Int64(getpid()), "the caller is the expctl process, not the test")
            XCTAssertEqual(e.arguments, configPath)
            XCTAssertEqual(e.time, Date().timeIntervalSince1970, accuracy: 120)
        }

        let table = try expctl(["audit", "--since", "1h"])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.contains("good one") && table.stdout.contains("error: invalid_config"), table.stdout)
        let limited = try expctlJSON(AuditResponse.self, ["audit", "--limit", "1"])
        XCTAssertEqual(limited.entries.map(\.reason), ["bad one"], "--limit keeps the newest")
    }

    func testSIGHUPReloads() throws {
        let (first, second) = (freePort(), freePort())
        let daemon = try startDaemon(ports: [first])
        try writeConfig(configJSON(ports: [first, second]))
        kill(daemon.pid, SIGHUP)
        XCTAssertTrue(waitUntil(timeout: 15) { portAccepts(second) }, "the new listener appears after SIGHUP")
        XCTAssertEqual(try httpGet(port: second, path: "/hello.txt").body, Self.helloText)
        XCTAssertEqual(try httpGet(port: first, path: "/hello.txt").status, 200)
        XCTAssertEqual(try expctlJSON(StatusResponse.self, ["status"]).reloads, 1)

        let entries = try expctlJSON(AuditResponse.self, ["audit", "--since", "1h"]).entries
        let record = try XCTUnwrap(entries.last)
        XCTAssertEqual(record.action, "reload")
        XCTAssertEqual(record.result, "ok")
        XCTAssertEqual(record.reason, "SIGHUP")
        XCTAssertNil(record.uid, "a signal has no control-socket caller")
        XCTAssertTrue(daemon.process.isRunning)
    }

    /// A SIGHUP or SIGUSR1 sent as soon as the program runs (its `main` has blocked them, long
    /// before its handlers exist) is neither fatal nor lost: acted on once the daemon runs.
    func testSignalsSentDuringStartUpAreActedOnOnceItRuns() throws {
        let log = dir + "/expserverd.log"
        try writeConfig(configJSON(ports: [freePort()]))
        let daemon = try launchDaemon([configPath, "--pid-file", pidFilePath, "--log-file", log])
        // main() has run once both are in the blocked mask (SigBlk: bit 0 is SIGHUP, bit 9 SIGUSR1).
        func blocked() -> Bool {
            guard let status = try? String(contentsOfFile: "/proc/\(daemon.pid)/status", encoding: .utf8),
                let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigBlk:") }),
                let mask = UInt64(line.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16)
            else { return false }
            return mask & 0x201 == 0x201
        }
        // Looked at every 0.1 ms, so the signals arrive while it still parses its arguments and
        // loads its config, before its handlers exist.
        let deadline = Date().addingTimeInterval(10)
        while !blocked() && Date() < deadline { usleep(100) }
        XCTAssertTrue(blocked(), "main() blocked SIGHUP and SIGUSR1")
        kill(daemon.pid, SIGHUP)
        kill(daemon.pid, SIGUSR1)
        try waitReady(daemon)
        XCTAssertTrue(waitUntil(timeout: 10) { ((try? self.expctlJSON(StatusResponse.self, ["status"]).reloads) ?? 0) == 1 },
                      "the SIGHUP reload happened once the daemon ran")
        XCTAssertTrue(waitUntil(timeout: 10) {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("log files reopened")
        }, "the SIGUSR1 was acted on")
        XCTAssertTrue(daemon.process.isRunning)
    }

    func testSIGHUPWithABadConfigKeepsRunning() throws {
        let port = freePort()
        let daemon = try startDaemon(ports: [port])
        try writeConfig("not json")
        kill(daemon.pid, SIGHUP)
        XCTAssertTrue(waitUntil(timeout: 15) {
            ((try? self.expctlJSON(AuditResponse.self, ["audit"]).entries.count) ?? 0) == 1
        })
        let record = try XCTUnwrap(try expctlJSON(AuditResponse.self, ["audit"]).entries.first)
        XCTAssertEqual(record.result, "error: invalid_config")
        XCTAssertTrue(daemon.process.isRunning)
        XCTAssertTrue(waitUntil(timeout: 5) { daemon.stderr.contains("reload refused") }, daemon.stderr)
        XCTAssertEqual(try httpGet(port: port, path: "/hello.txt").status, 200)
    }

    func testSIGHUPAndSIGUSR1DuringStartUpDoNotKillTheDaemon() throws {
        let port = freePort()
        try writeConfig(configJSON(ports: [port]))
        let daemon = try launchDaemon([configPath, "--pid-file", pidFilePath])
        // From the moment the daemon opens its state db (its own code runs by then) until it
        // serves, and a while after: a signal every millisecond or so, alternating.
        var sent = 0
        let ready = waitUntil(timeout: 30) {
            guard daemon.process.isRunning else { return true }
            while daemon.process.isRunning && !fileExists(stateDBPath) { usleep(200) }
            while daemon.process.isRunning && !(unixSocketAnswers(socketPath) && pidFileNames(daemon.pid)) {
                kill(daemon.pid, sent % 2 == 0 ? SIGHUP : SIGUSR1)
                sent += 1
                usleep(1_000)
            }
            return true
        }
        XCTAssertTrue(ready)
        for i in 0..<20 where daemon.process.isRunning {
            kill(daemon.pid, i % 2 == 0 ? SIGHUP : SIGUSR1)
            usleep(5_000)
        }
        XCTAssertGreaterThan(sent, 0)
        XCTAssertTrue(daemon.process.isRunning, "killed by a signal during start-up: \(daemon.stderr)")
        XCTAssertEqual(try httpGet(port: port, path: "/hello.txt").body, Self.helloText)
        let status = try expctlJSON(StatusResponse.self, ["status"])
        XCTAssertEqual(status.pid, daemon.pid)
        XCTAssertGreaterThan(status.reloads, 0, "the SIGHUPs reloaded")
    }
}
