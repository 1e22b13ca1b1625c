import Foundation
import Synchronization

/// CPU and memory figures from /proc for the eXpServer metrics JSON: whole-machine CPU % and
/// each worker thread's CPU % since the previous call (the dashboard polls once a second),
/// machine RAM, and the process's resident memory.
final class SystemSampler: Sendable {
    struct CPU { var busy: UInt64; var total: UInt64 }
    struct State {
        var machine: CPU?
        var threads: [String: (ticks: UInt64, at: Double)] = [:]
    }
    private let state = Mutex(State())

    /// Whole-machine CPU % since the last call (since boot on the first).
    func machineCPUPercent() -> Double {
        guard let line = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8))?.split(separator: "\n").first else { return 0 }
        let v = line.split(separator: " ").dropFirst().compactMap { UInt64($0) }
        guard v.count >= 4 else { return 0 }
        let idle = v[3] + (v.count > 4 ? v[4] : 0)
        let total = v.reduce(0, +)
        let now = CPU(busy: total - idle, total: total)
        let before = state.withLock { s -> CPU? in
            defer { s.machine = now }
            return s.machine
        }
        let b = before ?? CPU(busy: 0, total: 0)
        let dt = now.total &- b.total
        return dt == 0 ? 0 : (Double(now.busy &- b.busy) / Double(dt) * 1000).rounded() / 10
    }

    /// CPU % of each event-loop thread (`NIO-ELT-*`), in thread order, since the last call.
    func workerCPUPercents(expected: Int) -> [Double] {
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        let now = Date().timeIntervalSince1970
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        var samples: [(String, UInt64)] = []
        for tid in tasks {
            guard let comm = try? String(contentsOfFile: "/proc/self/task/\(tid)/comm", encoding: .utf8),
                comm.hasPrefix("NIO-ELT-"), let stat = try? String(contentsOfFile: "/proc/self/task/\(tid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 13, let u = UInt64(fields[11]), let s = UInt64(fields[12]) else { continue }
            samples.append((comm.trimmingCharacters(in: .whitespacesAndNewlines) + "/" + tid, u + s))
        }
        samples.sort { $0.0 < $1.0 }
        var out: [Double] = state.withLock { st in
            samples.map { key, ticks in
                let previous = st.threads[key]
                st.threads[key] = (ticks, now)
                guard let p = previous, now > p.at else { return 0 }
                return (Double(ticks &- p.ticks) / ticksPerSecond / (now - p.at) * 1000).rounded() / 10
            }
        }
        while out.count < expected { out.append(0) }
        return Array(out.prefix(Swift.max(expected, 1)))
    }

    /// (used, total) bytes: total − free − buffers − cached, as eXpServer computes it.
    func machineRAM() -> (used: Int, total: Int) {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return (0, 0) }
        var kb: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":")
            guard parts.count == 2 else { continue }
            kb[String(parts[0])] = Int(parts[1].split(separator: " ").first ?? "") ?? 0
        }
        let total = (kb["MemTotal"] ?? 0) * 1024
        let used = total - ((kb["MemFree"] ?? 0) + (kb["Buffers"] ?? 0) + (kb["Cached"] ?? 0)) * 1024
        return (used, total)
    }

    /// The process's resident memory in bytes.
    func processRSS() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return 0 }
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }
}
