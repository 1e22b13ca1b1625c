import ArgumentParser
import Dispatch
import Foundation
import Logging
import ServerCore

/// `expserverd [CONFIG]`: parse flags, load the config, run the server until SIGINT/SIGTERM.
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

    func validate() throws {
        if configPath != nil && configOption != nil {
            throw ValidationError("give the config either as an argument or with --config, not both")
        }
        if let workers, workers < 1 || workers > 1024 { throw ValidationError("--workers must be between 1 and 1024") }
        if Logger.Level(rawValue: logLevel) == nil { throw ValidationError("--log-level \(logLevel) is not a level") }
    }

    func run() throws {
        let level = Logger.Level(rawValue: logLevel)!
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "expserverd")
        let config: RuntimeConfig
        do {
            if let path = configPath ?? configOption {
                config = try ConfigLoader.load(path: path, workersOverride: workers)
            } else {
                config = try ConfigLoader.loadDefault(workersOverride: workers)
            }
        } catch let error as ConfigError {
            FileHandle.standardError.write("expserverd: config error: \(error)\n".data(using: .utf8)!)
            throw ExitCode(2)
        }
        if check {
            print("config OK: \(config.configPath ?? "built-in default"), \(config.listeners.count) listener(s), \(config.routing.servers.count) server(s)")
            return
        }
        let server: HTTPServer
        do {
            server = try HTTPServer(config: config, logger: logger)
            try server.start()
        } catch {
            FileHandle.standardError.write("expserverd: \(error)\n".data(using: .utf8)!)
            throw ExitCode(1)
        }
        logger.info("started", metadata: ["pid": "\(getpid())", "workers": "\(config.workers)", "config": "\(config.configPath ?? "built-in")"])
        let done = DispatchSemaphore(value: 0)
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { done.signal() }
            source.resume()
            sources.append(source)
        }
        done.wait()
        logger.info("shutting down")
        server.shutdown()
        _ = sources
    }
}
