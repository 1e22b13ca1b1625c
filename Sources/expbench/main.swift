import Foundation
import NIOCore
import ServerCore

#if canImport(Glibc)
import Glibc
#endif

/// Micro-benchmarks of pure ServerCore pieces, and a reference, for `bench/*.sh` (run it in release):
///   expbench acl [ENTRIES]          build an IPSet of ENTRIES mixed IPv4/IPv6 deny prefixes and time lookups
///   expbench relay PORT HOST:PORT…  a raw TCP relay over NIO (bench/proxy.sh's floor; see Relay.swift)
///   expbench tunnel-echo PORT       an upstream that accepts any Upgrade offer (101) and echoes the
///                                   tunnel's bytes (bench/tunnel.sh; see TunnelEcho.swift)
///   expbench tunnel-load [--threads N] [--handshake] HOST:PORT CONNECTIONS SECONDS MESSAGE_BYTES
///                                   WebSocket-style round trips through a tunnel (see TunnelLoad.swift)
let args = CommandLine.arguments.dropFirst()

func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    return (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func aclBench(entries count: Int) {
    var rng = SplitMix64(seed: 42)  // deterministic, so runs are comparable
    var cidrs: [CIDR] = []
    cidrs.reserveCapacity(count)
    for i in 0..<count {
        let r = rng.next()
        if i % 2 == 0 {  // IPv4, lengths 16-32
            let len = 16 + Int(r % 17)
            cidrs.append(CIDR(address: IPAddress(ipv4: UInt32(truncatingIfNeeded: r >> 8)), bits: 96 + len))
        } else {  // IPv6, lengths 32-128
            let len = 32 + Int(r % 97)
            cidrs.append(CIDR(address: IPAddress(high: 0x2001_0000_0000_0000 | (rng.next() >> 16), low: rng.next()), bits: len))
        }
    }
    let entries = cidrs.map { ACLEntry(cidr: $0, action: .deny, source: .manual, createdAt: 0) }
    let before = residentBytes()
    let t0 = now()
    let policy = AccessPolicy(dynamic: entries)
    let buildSeconds = now() - t0
    let after = residentBytes()
    // Lookups: half hit a stored prefix's network, half random addresses.
    var probes: [IPAddress] = []
    for i in 0..<100_000 {
        if i % 2 == 0 {
            probes.append(cidrs[Int(rng.next() % UInt64(cidrs.count))].network)
        } else if i % 4 == 1 {
            probes.append(IPAddress(ipv4: UInt32(truncatingIfNeeded: rng.next())))
        } else {
            probes.append(IPAddress(high: 0x2001_0000_0000_0000 | (rng.next() >> 16), low: rng.next()))
        }
    }
    let rounds = 50
    var denied = 0
    let t1 = now()
    for _ in 0..<rounds {
        for p in probes where !policy.decide(p, now: 1).allows { denied += 1 }
    }
    let lookupNs = (now() - t1) / Double(rounds * probes.count) * 1e9
    let empty = AccessPolicy()
    let t2 = now()
    var allowed = 0
    for _ in 0..<rounds {
        for p in probes where empty.decide(p, now: 1).allows { allowed += 1 }
    }
    let emptyNs = (now() - t2) / Double(rounds * probes.count) * 1e9
    // The same, with traffic from 1,000 recurring clients (warm caches, as real traffic is).
    let hot = (0..<100_000).map { probes[$0 % 1000] }
    let t3 = now()
    var hotDenied = 0
    for _ in 0..<rounds {
        for p in hot where !policy.decide(p, now: 1).allows { hotDenied += 1 }
    }
    let hotNs = (now() - t3) / Double(rounds * hot.count) * 1e9
    print("entries: \(count) (\(policy.entries.count) distinct prefixes)")
    print(String(format: "build: %.1f ms", buildSeconds * 1000))
    print(String(format: "memory: %.1f bytes/entry (resident growth %.1f MiB)", Double(after - before) / Double(count), Double(after - before) / 1048576))
    print(String(format: "lookup: %.1f ns/op (empty list: %.1f ns/op); %d of %d probes denied", lookupNs, emptyNs, denied / rounds, probes.count))
    print(String(format: "lookup, 1,000 recurring clients: %.1f ns/op", hotNs))
    _ = (allowed, hotDenied)
}

switch args.first {
case "acl":
    aclBench(entries: args.dropFirst().first.flatMap(Int.init) ?? 100_000)
case "relay":
    let rest = Array(args.dropFirst())
    let upstreams = rest.dropFirst().compactMap { text -> SocketAddress? in
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else { return nil }
        return try? SocketAddress(ipAddress: String(text[..<colon]), port: port)
    }
    guard let port = rest.first.flatMap(Int.init), !upstreams.isEmpty, upstreams.count == rest.count - 1 else {
        FileHandle.standardError.write(Data("usage: expbench relay PORT HOST:PORT... (IP literals)\n".utf8))
        exit(64)
    }
    try Relay.run(port: port, upstreams: upstreams)
case "tunnel-echo":
    guard let port = args.dropFirst().first.flatMap(Int.init), args.count == 2 else {
        FileHandle.standardError.write(Data("usage: expbench tunnel-echo PORT\n".utf8))
        exit(64)
    }
    try TunnelEcho.run(port: port)
case "tunnel-load":
    signal(SIGPIPE, SIG_IGN)  // a write to a connection the peer reset is an error to count, not the end
    TunnelLoad.main(Array(args.dropFirst()))
default:
    FileHandle.standardError.write(Data(
        "usage: expbench acl [ENTRIES] | relay PORT HOST:PORT... | tunnel-echo PORT | tunnel-load [--threads N] [--handshake] HOST:PORT CONNECTIONS SECONDS MESSAGE_BYTES\n".utf8))
    exit(64)
}
