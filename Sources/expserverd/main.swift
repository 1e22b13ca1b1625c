import ArgumentParser
import Dispatch
import Foundation
import Logging
import ServerCore
import Synchronization

/// `expserverd [CONFIG]`: parse flags, then hand over to `Daemon`. Signals: SIGTERM/SIGINT stop
/// gracefully, SIGHUP reloads the config, SIGUSR1 reopens the log files.
@main
struct ExpServerd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expserverd",
        abstract: "An eXpServer-compatible HTTP/1.1 server.",
        discussion: """
            With no config, uses ./xps_config.json when present, else serves ./public \
            (or a built-in sample page) on 127.0.0.1:8001.
            """,
        version: ConfigLoader.version)

    @Argument(help: "Path to xps_config.json.")
    var configPath: String?

    @Option(name: .customLong("config"), help: "Path to xps_config.json (same as the argument).")
    var configOption: String?

    @Option(help: "Event-loop worker threads (overrides the config's `workers`; default: CPU cores).")
    var workers: Int?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Flag(help: "Validate the config and exit (0 when valid).")
    var check = false

    @Option(help: "SQLite state database (overrides `state_db`).")
    var stateDB: String?

    @Option(help: "Control socket path (overrides `control.socket`).")
    var socket: String?

    @Flag(help: "Detach and run in the background.")
    var daemon = false

    @Option(help: "Write the process id here; refuse to start if it names a running process.")
    var pidFile: String?

    @Option(help: "Append logs to this file instead of stderr (overrides `error_log`; reopened on SIGUSR1).")
    var logFile: String?

    func validate() throws {
        if configPath != nil && configOption != nil {
            throw ValidationError("give the config either as an argument or with --config, not both")
        }
        if let workers, workers < 1 || workers > 1024 { throw ValidationError("--workers must be between 1 and 1024") }
        if Logger.Level(rawValue: logLevel) == nil { throw ValidationError("--log-level \(logLevel) is not a level") }
    }

    /// `console`: the terminal's stderr kept from before it went to the error log (-1: none),
    /// so that a foreground start that fails says why where it was started, not only in the log.
    func fail(_ message: String, code: Int32, readiness: CInt?, console: CInt = -1) -> ExitCode {
        let line = "expserverd: \(message)\n"
        if let readiness {
            DaemonProcess.report(readiness, line)
        } else {
            FileHandle.standardError.write(Data(line.utf8))
            if console >= 0 { FileHandle(fileDescriptor: console, closeOnDealloc: false).write(Data(line.utf8)) }
        }
        return ExitCode(code)
    }

    /// SIGHUP and SIGUSR1 kill a process by default: blocked before the arguments are even parsed
    /// and before any thread starts (every thread inherits the mask, and so does --daemon's fork),
    /// so one sent as the daemon starts (a log rotation, a reload) stays pending, neither fatal
    /// nor lost, until `run`'s dispatch sources take it (libdispatch reads blocked signals from a
    /// signalfd, pending ones included). Not ignored: that would discard a pending one.
    static let heldSignals = [SIGHUP, SIGUSR1]

    static func main() {
        var held = sigset_t()
        sigemptyset(&held)
        for sig in heldSignals { sigaddset(&held, sig) }
        pthread_sigmask(SIG_BLOCK, &held, nil)
        main(nil)
    }

    func run() throws {
        let path = configPath ?? configOption
        // Resolve relative paths before detaching (the daemon keeps the working directory, but be explicit).
        let cwd = FileManager.default.currentDirectoryPath
        func absolute(_ p: String?) -> String? { p.map { $0.hasPrefix("/") ? $0 : cwd + "/" + $0 } }
        if check {
            defer { ConfigLoader.removeSampleSite() }
            do {
                let config = try path.map { try ConfigLoader.load(path: $0, workersOverride: workers) } ?? ConfigLoader.loadDefault()
                for warning in config.warnings + ConfigCompiler.unresolvedUpstreams(config.source.servers) {
                    FileHandle.standardError.write(Data("expserverd: warning: \(warning)\n".utf8))
                }
                // What the start checks too, short of binding and opening (the flags as a start would take them).
                try Daemon.checkBeforeStart(
                    config, options: Daemon.Options(stateDB: absolute(stateDB), socket: absolute(socket)), logFile: absolute(logFile))
                print("config OK: \(config.configPath ?? "built-in default"), \(config.listeners.count) listener(s), \(config.routing.servers.count) server(s)")
                return
            } catch {
                throw fail("config error: \(error)", code: 2, readiness: nil)
            }
        }
        let readiness: CInt? = daemon ? DaemonProcess.detach() : nil

        let level = Logger.Level(rawValue: logLevel)!
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "expserverd")
        var configuredLog = absolute(logFile)
        if configuredLog == nil, let path, let cfg = try? ConfigLoader.load(path: path) { configuredLog = cfg.errorLog }
        let logPath = configuredLog
        // In the foreground, start-up failures also go to the stderr it was started with.
        var console = readiness == nil && logPath != nil ? fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3) : -1
        defer { if console >= 0 { close(console) } }
        if let logPath {
            do { try DaemonProcess.redirectStderr(to: logPath) } catch { throw fail("\(error)", code: 1, readiness: readiness) }
        }

        // SIGHUP and SIGUSR1 that arrive while the daemon starts are remembered and acted on once
        // it runs (a reload asked for during start-up may be about a config edited after it was read).
        let startup = StartupSignals()
        @Sendable func act(_ sig: Int32, _ running: Daemon) {
            if sig == SIGHUP {
                _ = try? running.reload(caller: nil, reason: "SIGHUP")  // (a refusal is logged by reload)
            } else {
                // A file that cannot be opened again is said so (logs keep going to the old one).
                var failed = false
                do { try logPath.map { try DaemonProcess.redirectStderr(to: $0) } } catch {
                    logger.error("log files not reopened: \(error)")
                    failed = true
                }
                do { try running.http.state.current.accessLog?.reopen() } catch {
                    logger.error("log files not reopened: \(error)")
                    failed = true
                }
                if !failed { logger.info("log files reopened") }
            }
        }
        let stop = DispatchSemaphore(value: 0)
        var sources: [DispatchSourceSignal] = []
        func on(_ sig: Int32, _ action: @escaping @Sendable () -> Void) {
            if !Self.heldSignals.contains(sig) { signal(sig, SIG_IGN) }  // (the held ones are blocked)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler(handler: action)
            source.resume()
            sources.append(source)
        }
        for sig in [SIGHUP, SIGUSR1] {
            on(sig) {
                let running = startup.state.withLock { s -> Daemon? in
                    if s.daemon == nil, !s.pending.contains(sig) { s.pending.append(sig) }
                    return s.daemon
                }
                if let running { act(sig, running) }
            }
        }

        let running: Daemon
        do {
            running = try Daemon(
                options: Daemon.Options(
                    configPath: absolute(path), workers: workers, stateDB: absolute(stateDB), socket: absolute(socket),
                    pidFile: absolute(pidFile), logFile: absolute(logFile)),
                logger: logger)
        } catch let error as ConfigError {
            throw fail("config error: \(error)", code: 2, readiness: readiness, console: console)
        } catch {
            throw fail("\(error)", code: 1, readiness: readiness, console: console)
        }
        if console >= 0 {  // (started: the terminal is not held)
            close(console)
            console = -1
        }
        on(SIGTERM) { stop.signal() }
        on(SIGINT) { stop.signal() }
        let pending = startup.state.withLock { s in
            s.daemon = running
            return s.pending
        }
        for sig in pending { act(sig, running) }
        // Only now "started" and readiness: a signal sent as soon as the daemon says it is up
        // (a log rotation's SIGUSR1, a reload's SIGHUP) finds its handler in place.
        logger.info("started", metadata: [
            "pid": "\(getpid())", "workers": "\(running.config.workers)", "config": "\(running.config.configPath ?? "built-in")",
        ])
        if let readiness { DaemonProcess.report(readiness, "ok") }
        stop.wait()
        running.shutdown()
        logger.info("stopped")
        _ = sources
    }
}

/// The daemon once it runs, and the SIGHUP/SIGUSR1 that arrived before (acted on then).
final class StartupSignals: Sendable {
    let state = Mutex<(daemon: Daemon?, pending: [Int32])>((nil, []))
}
