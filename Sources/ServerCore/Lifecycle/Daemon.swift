import ControlProtocol
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The running daemon: the HTTP server, the state store, the control socket, and the
/// operations on them (status, reload, shutdown). The executable only parses flags and calls this.
public final class Daemon: Sendable {
    public struct Options: Sendable {
        public var configPath: String?
        public var workers: Int?
        public var stateDB: String?
        public var socket: String?
        public var pidFile: String?
        /// `--log-file`: the error log in place of the config's `error_log`.
        public var logFile: String?

        public init(
            configPath: String? = nil, workers: Int? = nil, stateDB: String? = nil, socket: String? = nil, pidFile: String? = nil,
            logFile: String? = nil
        ) {
            self.configPath = configPath
            self.workers = workers
            self.stateDB = stateDB
            self.socket = socket
            self.pidFile = pidFile
            self.logFile = logFile
        }
    }

    public let options: Options
    public let http: HTTPServer
    public let store: StateStore
    public let access: AccessControl
    public let statsRecorder: StatsRecorder
    public let stateDBPath: String
    public let socketPath: String
    /// Who may use the control socket; a reload replaces it.
    public let controlAccess: LiveControlAccess
    /// What a reload cannot change, as it runs (from the start); see `restartOnlySettings`.
    private let restartOnly: [(key: String, value: String)]
    private let notApplied = Mutex<[String]>([])
    let logger: Logger
    let startedAt = Date()
    private let control = Mutex<ControlServer?>(nil)
    /// Held from before the db is opened until shutdown: one daemon per state db.
    private let stateDBLock: StateDBLock
    private let reloads = Atomic<Int>(0)
    /// Reloads are serialised: SIGHUP and `expctl reload` may race.
    private let reloadLock = Mutex<Void>(())
    /// Upstream admin changes (read, store, apply) and a reload's re-applying of the stored ones
    /// happen one at a time: two changes at once could store one and apply the other, and a
    /// reload could apply a row read before a change it did not see.
    let upstreamChangeLock = Mutex<Void>(())

    /// Loads the config (throws `ConfigError`), opens the state db, binds the listeners and the
    /// control socket, writes the pid file. Throws, having released what it took, on any failure.
    public init(options: Options, logger: Logger) throws {
        self.options = options
        self.logger = logger
        let config = try Self.loadConfig(options)
        Self.logWarnings(config, logger)
        (stateDBPath, socketPath) = Self.paths(config, options)
        restartOnly = Self.restartOnlySettings(config, options)
        controlAccess = LiveControlAccess(Self.controlAccess(config))
        if let pidFile = options.pidFile { try PIDFile.check(pidFile) }
        // Refuse early, before touching anything, if a live (or hung) daemon owns the socket.
        try ControlServer.refuseIfOccupied(socketPath)
        try Self.checkStateDBPath(stateDBPath)
        stateDBLock = try StateDBLock(dbPath: stateDBPath)
        store = try Self.openStateDB(stateDBPath)
        try UpstreamControl.restore(config, from: store)
        access = try AccessControl(settings: config.acl, store: store)
        http = try HTTPServer(config: config, logger: logger, access: access)
        statsRecorder = try StatsRecorder(
            stats: http.state.stats, store: store, flushInterval: Double(config.source.statsFlushMs) / 1000,
            retention: Double(config.source.statsRetentionHours) * 3600, logger: logger)
        try http.start()
        statsRecorder.start()
        do {
            var router = ControlRouter()
            ControlAPI.register(on: &router, daemon: self)
            let access = controlAccess
            let store = self.store
            let log = logger
            let server = try ControlServer.start(
                path: socketPath, mode: mode_t(config.control.mode), group: http.group, router: router, access: access,
                audit: { record in
                    do { try store.appendAudit(record) } catch { log.error("audit write failed: \(error)") }
                })
            control.withLock { $0 = server }
            if let pidFile = options.pidFile { try PIDFile.write(pidFile) }
        } catch {
            control.withLock { $0?.stop() }
            http.shutdown(grace: .zero)
            statsRecorder.stop()
            // Not left to deinit: the control router's closures may keep this object alive.
            stateDBLock.release()
            throw error
        }
        logger.info("control socket ready", metadata: ["socket": "\(socketPath)", "state_db": "\(stateDBPath)"])
    }

    static func logWarnings(_ config: RuntimeConfig, _ logger: Logger) {
        for warning in config.warnings { logger.warning("config: \(warning)", metadata: ["key": "\(warning.path)"]) }
    }

    /// The state db and the control socket `config` and the flags name.
    static func paths(_ config: RuntimeConfig, _ options: Options) -> (stateDB: String, socket: String) {
        let stateDB = options.stateDB ?? config.stateDB ?? ControlDefaults.stateDB()
        return (stateDB, options.socket ?? config.control.socket ?? ((stateDB as NSString).deletingLastPathComponent + "/expserverd.sock"))
    }

    static func controlAccess(_ config: RuntimeConfig) -> ControlAccess {
        ControlAccess(allowedUIDs: Set(config.control.allowedUIDs), allowedGIDs: Set(config.control.allowedGIDs))
    }

    /// The settings a running daemon keeps until it restarts, by config key, with the value each
    /// would have: they size or name what start-up created (event loops, the db and its lock,
    /// the control socket, the stats timer, the gzip cache, stderr's file). The rest of a config
    /// (listeners, routes, ACLs, timeouts, limits, access_log, control.allowed_*) applies on reload.
    static func restartOnlySettings(_ config: RuntimeConfig, _ options: Options) -> [(key: String, value: String)] {
        let (stateDB, socket) = paths(config, options)
        return [
            ("workers", "\(config.workers)"),
            ("state_db", stateDB),
            ("control.socket", socket),
            ("control.mode", "0" + String(config.control.mode, radix: 8)),
            ("stats.flush_ms", "\(config.source.statsFlushMs)"),
            ("stats.retention_hours", "\(config.source.statsRetentionHours)"),
            ("gzip_cache_max_bytes", "\(config.source.gzipCacheMaxBytes)"),
            ("error_log", config.errorLog ?? "stderr"),
        ]
    }

    /// The keys whose values in the last reloaded config differ from the running ones: they wait
    /// for a restart (logged as a warning at each reload that leaves them so).
    public var restartPending: [String] { notApplied.withLock { $0 } }

    /// A state db path that can never be a database file is a config error (exit 2), naming the key.
    static func checkStateDBPath(_ path: String) throws {
        var isDir: ObjCBool = false
        if path.hasSuffix("/") || (FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue) {
            throw ConfigError("state_db", "\"\(path)\" is a directory, not a database file")
        }
    }

    /// Opens (and migrates) the state db; SQLite's refusal (unreadable, read-only, corrupted) is
    /// reported with the file it is about: `state_db PATH: SQLite error 26: file is not a database`.
    static func openStateDB(_ path: String) throws -> SQLiteStateStore {
        do {
            return try SQLiteStateStore(path: path)
        } catch {
            throw StateDBError(path: path, reason: "\(error)")
        }
    }

    static func loadConfig(
        _ options: Options, upstreams: UpstreamRegistry = UpstreamRegistry(), routeStats: RouteStatsRegistry = RouteStatsRegistry()
    ) throws -> RuntimeConfig {
        if let path = options.configPath {
            return try ConfigLoader.load(path: path, workersOverride: options.workers, upstreams: upstreams, routeStats: routeStats)
        }
        return try ConfigLoader.loadDefault(workersOverride: options.workers, upstreams: upstreams, routeStats: routeStats)
    }

    public var config: RuntimeConfig { http.state.current.config }

    public func status() -> StatusResponse {
        let config = self.config
        return StatusResponse(
            version: ConfigLoader.version, protocolVersion: ControlProtocolVersion.current, pid: getpid(),
            startedAt: startedAt.timeIntervalSince1970, uptimeMs: Int64(Date().timeIntervalSince(startedAt) * 1000),
            configPath: config.configPath, stateDB: stateDBPath, controlSocket: socketPath, workers: http.state.stats.workers,
            listeners: config.listeners.map { "\($0.host):\($0.port)" }, reloads: reloads.load(ordering: .relaxed))
    }

    /// Re-reads and fully validates the config, then swaps it in. On any error the running config
    /// is untouched and the error is thrown. Audited either way.
    @discardableResult
    public func reload(caller: PeerCredentials?, reason: String?) throws -> ReloadResponse {
        try reloadLock.withLock { _ in
            var result = "ok"
            defer {
                let record = AuditRecord(
                    time: Date().timeIntervalSince1970, uid: caller.map { Int64($0.uid) }, pid: caller.map { Int64($0.pid) },
                    action: "reload", arguments: config.configPath ?? "built-in default", result: result, reason: reason)
                do { try store.appendAudit(record) } catch { logger.error("audit write failed: \(error)") }
            }
            do {
                var opts = options
                if opts.configPath == nil { opts.configPath = config.configPath }
                let new = try Self.loadConfig(opts, upstreams: config.upstreams, routeStats: config.routeStats)
                // What the next start would refuse is refused now, while the old config still runs
                // (a restart-only key such as `state_db` is not applied until then, but a reload
                // that accepted a bad one would leave a daemon that cannot be restarted).
                try Self.checkBeforeStart(new, options: options, logFile: options.logFile)
                Self.logWarnings(new, logger)
                try upstreamChangeLock.withLock { _ in try UpstreamControl.restore(new, from: store) }
                try http.apply(new)
                controlAccess.replace(with: Self.controlAccess(new))
                let running = Dictionary(uniqueKeysWithValues: restartOnly)
                let pending = Self.restartOnlySettings(new, options).filter { running[$0.key] != $0.value }
                for (key, value) in pending {
                    logger.warning("\(key) changed in the config; not applied until the next restart, still \(running[key]!)",
                                   metadata: ["key": "\(key)", "new": "\(value)"])
                }
                notApplied.withLock { $0 = pending.map(\.key) }
                let count = reloads.add(1, ordering: .relaxed).newValue
                logger.info("config reloaded", metadata: ["config": "\(new.configPath ?? "built-in")"])
                return ReloadResponse(
                    configPath: new.configPath, listeners: new.listeners.map { "\($0.host):\($0.port)" }, reloads: count,
                    notApplied: pending.map(\.key))
            } catch let error as ConfigError {
                result = "error: invalid_config"
                logger.error("reload refused, still running the old config: \(error)", metadata: ["reason": "\(reason ?? "-")"])
                throw ControlFailure(.unprocessableEntity, .invalidConfig, "config refused, still running the old one: \(error)")
            } catch {
                result = "error: \(error)"
                logger.error("reload failed, still running the old config: \(error)", metadata: ["reason": "\(reason ?? "-")"])
                throw ControlFailure(.unprocessableEntity, .invalidConfig, "reload failed, still running the old config: \(error)")
            }
        }
    }

    /// Stops accepting, lets in-flight requests finish for up to `grace`, closes the control
    /// socket and removes it and the pid file.
    public func shutdown(grace: TimeAmount? = nil) {
        let graceTime = grace ?? .milliseconds(Int64(config.shutdownGrace))
        logger.info("shutting down", metadata: ["grace_ms": "\(graceTime.nanoseconds / 1_000_000)"])
        control.withLock { c in
            c?.stop()
            c = nil
        }
        http.shutdown(grace: graceTime)
        access.stop()
        statsRecorder.stop()
        ConfigLoader.removeSampleSite()
        stateDBLock.release()
        if let pidFile = options.pidFile { PIDFile.remove(pidFile) }
    }
}
