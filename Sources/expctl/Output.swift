import ArgumentParser
import ControlProtocol
import Foundation

/// Printing and error handling shared by the commands.
enum Output {
    /// Runs a command body; a `CLIError` becomes one line on stderr and its exit status.
    static func run(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as CLIError {
            FileHandle.standardError.write(Data("expctl: \(printable(error.message))\n".utf8))
            throw ExitCode(error.exitCode)
        }
    }

    /// Sends a request and decodes a success body, or throws the daemon's error as `CLIError.daemon`.
    static func call<T: Decodable>(
        _ options: GlobalOptions, _ method: ControlMethod, _ path: String, body: Data? = nil, as: T.Type
    ) throws -> (T, Data) {
        let reply = try options.client.request(method, path, body: body)
        guard (200..<300).contains(reply.status) else {
            if let err = try? JSONDecoder().decode(ControlErrorBody.self, from: reply.body) {
                throw CLIError.daemon(code: err.error.code, message: err.error.message)
            }
            throw CLIError.daemon(code: "http_\(reply.status)", message: "the daemon answered HTTP \(reply.status)")
        }
        do {
            return (try JSONDecoder().decode(T.self, from: reply.body), reply.body)
        } catch {
            throw CLIError.transport("unexpected answer from the daemon: \(error)")
        }
    }

    /// The daemon's JSON, re-encoded with sorted keys (stable output for scripts).
    static func printJSON<T: Encodable>(_ value: T) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        if let data = try? encoder.encode(value) { print(String(decoding: data, as: UTF8.self)) }
    }

    /// `text` with its control characters (C0, DEL, C1) written as `\n`, `\t`, `\u{1B}`: what
    /// the daemon stored (a reason from before reasons were checked, a name) reaches the terminal
    /// as text, one line, never as a control sequence.
    static func printable(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: ControlText.isControl) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where ControlText.isControl(scalar): out += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A plain table: a header row and aligned columns (cells made `printable`).
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let rows = rows.map { $0.map(printable) }
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }

    static func duration(ms: Int64) -> String {
        let s = ms / 1000
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(s % 60)s" }
        if s < 86400 { return "\(s / 3600)h\((s % 3600) / 60)m" }
        return "\(s / 86400)d\((s % 86400) / 3600)h"
    }

    static func timestamp(_ epoch: Double) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: Date(timeIntervalSince1970: epoch))
    }

    /// The epoch second `seconds` ago, never before the epoch: `--since 1e300s` means everything
    /// (`seconds` is finite, from `parseDuration`, so this cannot trap).
    static func epoch(ago seconds: Double) -> Int {
        Int(max(0, Date().timeIntervalSince1970 - seconds))
    }

    /// `30s`, `15m`, `1h`, `7d` → seconds (nil for anything else, `inf` and `nan` included).
    static func parseDuration(_ text: String) -> Double? {
        guard let unit = text.last, let n = Double(text.dropLast()), n >= 0 else { return nil }
        let seconds: Double
        switch unit {
        case "s": seconds = n
        case "m": seconds = n * 60
        case "h": seconds = n * 3600
        case "d": seconds = n * 86400
        default: return nil
        }
        return seconds.isFinite ? seconds : nil  // (1e305d overflows)
    }
}
