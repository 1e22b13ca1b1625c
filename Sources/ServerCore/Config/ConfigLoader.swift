import Foundation
import Synchronization

/// Where a config comes from and how it is read: a file (relative paths inside it resolve against
/// the file's directory, as eXpServer does), or the built-in default for a first run.
public enum ConfigLoader {
    public static let version = "0.1.0"

    /// Reads, validates and compiles the config at `path`.
    public static func load(
        path: String, workersOverride: Int? = nil, upstreams: UpstreamRegistry = UpstreamRegistry(),
        routeStats: RouteStatsRegistry = RouteStatsRegistry()
    ) throws -> RuntimeConfig {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        let parsed = try XPSConfig.parse(readFile(absolute))
        let base = (absolute as NSString).deletingLastPathComponent
        return try ConfigCompiler.compile(
            parsed, configPath: absolute, baseDirectory: base, workersOverride: workersOverride, upstreams: upstreams,
            routeStats: routeStats)
    }

    /// A config is small: anything bigger than this is not one (and is not read into memory).
    static let maxFileBytes = 16 << 20

    /// The config file's bytes, or why they cannot be had, in the message: missing, unreadable,
    /// a directory, a FIFO or device (never waited on), or over `maxFileBytes`.
    static func readFile(_ path: String) throws -> Data {
        func failure(_ why: String) -> ConfigError { ConfigError("", "cannot read config file \(path): \(why)") }
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw failure(String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw failure(String(cString: strerror(errno))) }
        switch st.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw failure("it is a directory")
        default: throw failure("not a regular file")
        }
        guard st.st_size <= maxFileBytes else { throw failure("\(st.st_size) bytes; a config is at most \(maxFileBytes >> 20) MiB") }
        // (Read to the end, not to the size fstat gave: /proc files say 0. At most the limit.)
        var data = Data()
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure(String(cString: strerror(errno)))
            }
            if n == 0 { return data }
            data.append(contentsOf: chunk[..<n])
            guard data.count <= maxFileBytes else { throw failure("more than \(maxFileBytes >> 20) MiB; a config is at most that") }
        }
    }

    /// The config used when none is given: `./xps_config.json` if present; otherwise serve `./public`
    /// (or, when that does not exist either, a generated welcome page) on 127.0.0.1:8001.
    public static func loadDefault(
        workersOverride: Int? = nil, upstreams: UpstreamRegistry = UpstreamRegistry(), routeStats: RouteStatsRegistry = RouteStatsRegistry()
    ) throws -> RuntimeConfig {
        let cwd = FileManager.default.currentDirectoryPath
        if FileManager.default.fileExists(atPath: cwd + "/xps_config.json") {
            return try load(path: cwd + "/xps_config.json", workersOverride: workersOverride, upstreams: upstreams, routeStats: routeStats)
        }
        var root = cwd + "/public"
        var isDir: ObjCBool = false
        if !(FileManager.default.fileExists(atPath: root, isDirectory: &isDir) && isDir.boolValue) {
            root = try sampleSite()
        }
        let config = XPSConfig(
            serverName: "eXpServer", workers: nil,
            servers: [XPSConfig.Server(
                listeners: [XPSConfig.Listener(host: "127.0.0.1", port: 8001)], hostnames: [],
                routes: [XPSConfig.Route(
                    reqPath: "/", type: .fileServe, ipWhitelist: [], ipBlacklist: [], dirPath: root,
                    index: ["index.html"], gzipEnable: false, gzipLevel: -1, gzipMimeTypes: [], redirectURL: nil,
                    httpStatusCode: 302, upstreams: [], loadBalancing: "round_robin")])],
            accessLog: nil)
        return try ConfigCompiler.compile(config, configPath: nil, baseDirectory: cwd, workersOverride: workersOverride, routeStats: routeStats)
    }

    /// The sample site this process wrote, if it did (`removeSampleSite`).
    private static let writtenSampleSite = Mutex<String?>(nil)

    /// Removes the sample site this process wrote, if any: when it stops (or `--check` ends).
    public static func removeSampleSite() {
        guard let dir = writtenSampleSite.withLock({ $0 }) else { return }
        try? FileManager.default.removeItem(atPath: dir)
    }

    static func sampleSite() throws -> String {
        let dir = NSTemporaryDirectory() + "expserver-sample-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        writtenSampleSite.withLock { $0 = dir }
        let html = """
            <!DOCTYPE html>
            <html><head><meta charset="UTF-8"><title>expserver</title></head>
            <body><h1>expserver is running</h1>
            <p>This is the built-in sample site. Give <code>expserverd</code> an <code>xps_config.json</code>
            to serve your own files.</p></body></html>

            """
        try html.write(toFile: dir + "/index.html", atomically: true, encoding: .utf8)
        chmod(dir + "/index.html", 0o644)
        return dir
    }
}
