#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the daemon keeps its state and socket when the config does not say, so that `expctl`
/// finds the daemon with no flags: root uses `/var/lib/expserver`; other users
/// `$XDG_STATE_HOME/expserver` or `~/.local/state/expserver`.
public enum ControlDefaults {
    public static let socketEnvironmentVariable = "EXPCTL_SOCKET"

    public static func stateDirectory() -> String {
        if getuid() == 0 { return "/var/lib/expserver" }
        if let xdg = getenv("XDG_STATE_HOME").map({ String(cString: $0) }), !xdg.isEmpty { return xdg + "/expserver" }
        let home = getenv("HOME").map { String(cString: $0) } ?? "/tmp"
        return home + "/.local/state/expserver"
    }

    public static func stateDB() -> String { stateDirectory() + "/state.db" }
    public static func socketPath() -> String { stateDirectory() + "/expserverd.sock" }
}
