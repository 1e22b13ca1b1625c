import ControlProtocol
import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#endif

/// `StateStore` on SQLite (GRDB, the system libsqlite3): WAL journal, `synchronous = FULL` so an
/// acknowledged commit survives a crash or power loss, ordered named migrations. The state (the
/// audit log, who was denied) is the operator's alone: a new database is created 0600 (SQLite
/// gives its -wal and -shm files the same mode) in directories created 0700.
public final class SQLiteStateStore: StateStore {
    public let path: String
    private let pool: DatabasePool

    public init(path: String) throws {
        self.path = path
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try Self.makeDirectories(dir) }
        // Created here, empty (a valid empty database), so SQLite never creates it with its
        // default 0644; an existing file keeps the mode it has. Errors are left to SQLite's open.
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        if fd >= 0 { close(fd) }
        var config = Configuration()
        config.busyMode = .timeout(5)
        pool = try DatabasePool(path: path, configuration: config)
        // Set on the writer after the pool is open: DatabasePool.init turns on WAL with
        // `synchronous = NORMAL` (GRDB's setUpWALMode), which undid a FULL set in prepareDatabase,
        // and NORMAL does not fsync at commit. The pool has one writer connection for its whole
        // life and GRDB sets the pragma nowhere else, so this holds for every later write.
        try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
        try Self.migrator.migrate(pool)
    }

    /// The writer connection's `PRAGMA synchronous` (2 = FULL: every commit is fsynced).
    var writerSynchronous: Int {
        get throws { try pool.writeWithoutTransaction { try Int.fetchOne($0, sql: "PRAGMA synchronous") ?? -1 } }
    }

    /// Creates the missing directories of `dir`, each 0700; existing ones are left as they are.
    static func makeDirectories(_ dir: String) throws {
        var missing: [String] = []
        var p = dir
        while !p.isEmpty, p != "/", !FileManager.default.fileExists(atPath: p) {
            missing.append(p)
            p = (p as NSString).deletingLastPathComponent
        }
        for d in missing.reversed() {
            try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        }
    }

    /// Migrations run in order, once each, recorded in `grdb_migrations`. Never edit a shipped
    /// migration: add a new one.
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1-audit") { db in
            try db.create(table: "audit") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("time", .double).notNull()
                t.column("uid", .integer)
                t.column("pid", .integer)
                t.column("action", .text).notNull()
                t.column("arguments", .text).notNull()
                t.column("result", .text).notNull()
                t.column("reason", .text)
            }
            try db.create(index: "audit_time", on: "audit", columns: ["time"])
        }
        m.registerMigration("v2-acl") { db in
            try db.create(table: "acl") { t in
                t.primaryKey("cidr", .text)
                t.column("action", .text).notNull()
                t.column("source", .text).notNull()
                t.column("created_at", .double).notNull()
                t.column("expires_at", .double)
                t.column("reason", .text)
                t.column("created_by", .integer)
            }
        }
        m.registerMigration("v3-upstreams") { db in
            try db.create(table: "upstream_state") { t in
                t.primaryKey("address", .text)
                t.column("admin", .text).notNull()
                t.column("weight", .integer)
                t.column("updated_at", .double).notNull()
            }
        }
        m.registerMigration("v4-stats") { db in
            try db.create(table: "stats_totals") { t in
                t.primaryKey("key", .text)
                t.column("value", .integer).notNull()
            }
            try db.create(table: "stats_samples") { t in
                t.column("time", .double).notNull().primaryKey()
                t.column("totals", .text).notNull()
            }
        }
        return m
    }

    public func putUpstream(_ u: StoredUpstream, audit: AuditRecord) throws {
        try pool.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO upstream_state (address, admin, weight, updated_at) VALUES (?, ?, ?, ?)",
                arguments: [u.address, u.admin.rawValue, u.weight, audit.time])
            try Self.insertAudit(db, audit)
        }
    }

    public func saveStats(_ totals: [String: Int], time: Double, pruneBefore: Double) throws {
        let json = String(decoding: try JSONEncoder().encode(totals), as: UTF8.self)
        try pool.write { db in
            for (k, v) in totals {
                try db.execute(sql: "INSERT OR REPLACE INTO stats_totals (key, value) VALUES (?, ?)", arguments: [k, v])
            }
            try db.execute(sql: "INSERT OR REPLACE INTO stats_samples (time, totals) VALUES (?, ?)", arguments: [time, json])
            try db.execute(sql: "DELETE FROM stats_samples WHERE time < ?", arguments: [pruneBefore])
        }
    }

    public func statsTotals() throws -> [String: Int] {
        try pool.read { db in
            var out: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT key, value FROM stats_totals") { out[row["key"]] = row["value"] }
            return out
        }
    }

    public func statsSample(atOrBefore time: Double) throws -> (time: Double, totals: [String: Int])? {
        try statsSample("SELECT time, totals FROM stats_samples WHERE time <= ? ORDER BY time DESC LIMIT 1", [time])
    }

    public func oldestStatsSample() throws -> (time: Double, totals: [String: Int])? {
        try statsSample("SELECT time, totals FROM stats_samples ORDER BY time LIMIT 1", [])
    }

    private func statsSample(_ sql: String, _ arguments: StatementArguments) throws -> (time: Double, totals: [String: Int])? {
        try pool.read { db in
            guard let row = try Row.fetchOne(db, sql: sql, arguments: arguments) else { return nil }
            let text: String = row["totals"]
            return (row["time"], (try? JSONDecoder().decode([String: Int].self, from: Data(text.utf8))) ?? [:])
        }
    }

    public func upstreamStates() throws -> [StoredUpstream] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM upstream_state ORDER BY address").compactMap { row in
                guard let admin = UpstreamState.Admin(rawValue: row["admin"]) else { return nil }
                return StoredUpstream(address: row["address"], admin: admin, weight: row["weight"])
            }
        }
    }

    @discardableResult
    public func appendAudit(_ r: AuditRecord) throws -> Int64 {
        try pool.write { db in
            try Self.insertAudit(db, r)
            return db.lastInsertedRowID
        }
    }

    static func insertAudit(_ db: Database, _ r: AuditRecord) throws {
        try db.execute(
            sql: "INSERT INTO audit (time, uid, pid, action, arguments, result, reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
            arguments: [r.time, r.uid, r.pid, r.action, r.arguments, r.result, r.reason])
    }

    public func putACL(_ e: ACLEntry, audit: AuditRecord) throws {
        try pool.write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO acl (cidr, action, source, created_at, expires_at, reason, created_by)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [e.cidr.description, e.action.rawValue, e.source.rawValue, e.createdAt, e.expiresAt, e.reason, e.createdBy])
            try Self.insertAudit(db, audit)
        }
    }

    public func removeACL(_ cidr: CIDR, audit: AuditRecord) throws -> Bool {
        try pool.write { db in
            try db.execute(sql: "DELETE FROM acl WHERE cidr = ?", arguments: [cidr.description])
            guard db.changesCount > 0 else { return false }
            try Self.insertAudit(db, audit)
            return true
        }
    }

    public func aclEntries() throws -> [ACLEntry] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM acl ORDER BY created_at").compactMap { row in
                let text: String = row["cidr"]
                guard let cidr = CIDR(text), let action = ACLEntry.Action(rawValue: row["action"]),
                    let source = ACLEntry.Source(rawValue: row["source"])
                else { return nil }
                return ACLEntry(
                    cidr: cidr, action: action, source: source, createdAt: row["created_at"], expiresAt: row["expires_at"],
                    reason: row["reason"], createdBy: row["created_by"])
            }
        }
    }

    public func pruneACL(expiredBefore before: Double) throws {
        try pool.write { db in
            try db.execute(sql: "DELETE FROM acl WHERE expires_at IS NOT NULL AND expires_at < ?", arguments: [before])
        }
    }

    public func audit(since: Double?, limit: Int) throws -> [AuditEntry] {
        try pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM (SELECT * FROM audit WHERE time >= ? ORDER BY id DESC LIMIT ?) ORDER BY id",
                arguments: [since ?? 0, limit]
            ).map { row in
                AuditEntry(
                    id: row["id"], time: row["time"], uid: row["uid"], pid: row["pid"], action: row["action"],
                    arguments: row["arguments"], result: row["result"], reason: row["reason"])
            }
        }
    }
}
