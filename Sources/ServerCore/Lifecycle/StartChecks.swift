#if canImport(Glibc)
import Glibc
#endif
import Foundation

extension Daemon {
    /// What `expserverd --check` verifies beyond loading the config: the files and directories
    /// the start would use, checked without creating or binding anything, so that a config
    /// `--check` passes is not then refused by the start. (A daemon already running on the same
    /// db and socket is no error here: checking the config of a running daemon before a reload
    /// is the common case.) Listener hosts are resolved by the load itself. Throws the first
    /// problem as a `ConfigError` naming its key.
    public static func checkBeforeStart(_ config: RuntimeConfig, options: Options, logFile: String?) throws {
        let (stateDB, socket) = paths(config, options)
        try checkStateDBPath(stateDB)
        // The db, its lock, -wal and -shm files live in its directory, made (0700) when missing.
        if FileManager.default.fileExists(atPath: stateDB), Glibc.access(stateDB, R_OK | W_OK) != 0 {
            throw ConfigError("state_db", "\"\(stateDB)\" is not readable and writable: \(String(cString: strerror(errno)))")
        }
        try checkDirectory(of: stateDB, key: "state_db", created: true)
        for (key, path) in [("access_log", config.accessLog), ("error_log", logFile ?? config.errorLog)] {
            guard let path, !(key == "access_log" && (path == "-" || path == "stdout")) else { continue }
            // Opened for append and created if missing; its directory is not created.
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
                guard !isDir.boolValue else { throw ConfigError(key, "\"\(path)\" is a directory") }
                guard Glibc.access(path, W_OK) == 0 else {
                    throw ConfigError(key, "cannot open \"\(path)\": \(String(cString: strerror(errno)))")
                }
            } else {
                try checkDirectory(of: path, key: key, created: false)
            }
        }
        // The socket's directory is made only when it is the state db's (the db comes first).
        let socketDir = (socket as NSString).deletingLastPathComponent
        try checkDirectory(of: socket, key: "control.socket", created: socketDir == (stateDB as NSString).deletingLastPathComponent)
        guard socket.utf8.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
            throw ConfigError("control.socket", "\"\(socket)\" is longer than a Unix socket path may be (\(MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1) bytes)")
        }
        var st = stat()
        if lstat(socket, &st) == 0, st.st_mode & S_IFMT != S_IFSOCK {
            throw ConfigError("control.socket", ControlSocketError.notASocket(path: socket).description)
        }
    }

    /// `path`'s directory exists (or, when the start creates it, its nearest existing ancestor
    /// does) and is a directory we may create files in.
    static func checkDirectory(of path: String, key: String, created: Bool) throws {
        var dir = (path as NSString).deletingLastPathComponent
        if dir.isEmpty { dir = "." }
        var isDir: ObjCBool = false
        while created, !FileManager.default.fileExists(atPath: dir), dir != "/" {
            dir = (dir as NSString).deletingLastPathComponent
        }
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) else {
            throw ConfigError(key, "the directory of \"\(path)\" does not exist")
        }
        guard isDir.boolValue else { throw ConfigError(key, "\"\(dir)\" in \"\(path)\" is not a directory") }
        guard Glibc.access(dir, W_OK | X_OK) == 0 else {
            throw ConfigError(key, "cannot create files in \"\(dir)\" (for \"\(path)\"): \(String(cString: strerror(errno)))")
        }
    }
}
