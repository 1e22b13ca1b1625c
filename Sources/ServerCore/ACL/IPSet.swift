/// An immutable set of address prefixes with longest-prefix-match lookup: a path-compressed
/// binary trie over the 128-bit address space (IPv4 lives at `::ffff:0:0/96`, so IPv4 and
/// IPv4-mapped IPv6 clients meet the same entries).
///
/// Lookup walks at most one node per distinct branching point on the address's path — at most
/// 129 nodes, in practice a few dozen — so its cost does not grow with the number of entries.
/// The set is built once from its entries and never mutated: a change builds a new set, which
/// is swapped in whole (`AccessControl`).
public struct IPSet<Value: Sendable>: Sendable {
    struct Node: Sendable {
        var high: UInt64
        var low: UInt64
        var bits: UInt8
        var left: Int32 = -1
        var right: Int32 = -1
        /// Index into `values`, or -1 for a pure branching node.
        var value: Int32 = -1
    }

    private var nodes: [Node] = [Node(high: 0, low: 0, bits: 0)]
    public private(set) var values: [Value] = []
    /// Per value: when it stops matching (epoch seconds; +infinity for never). Kept beside the
    /// nodes so a lookup never copies a value to test it.
    private var expiries: [Double] = []
    /// Per value: the index of the value that matches in its place once it has expired (-1:
    /// none), so a value that stood in front of another for a while gives the prefix back to it
    /// at that very moment, not at the next rebuild. Such a value is held apart, on no node.
    private var behind: [Int32] = []
    public var count: Int { values.count }
    var nodeCount: Int { nodes.count }

    public init() {}

    public init(_ entries: [(CIDR, Value)]) {
        nodes.reserveCapacity(entries.count * 2 + 1)
        values.reserveCapacity(entries.count)
        for (cidr, value) in entries { insert(cidr, value) }
    }

    /// Entries with expiry times (epoch seconds, nil for never).
    public init(_ entries: [(CIDR, Value, Double?)]) {
        nodes.reserveCapacity(entries.count * 2 + 1)
        values.reserveCapacity(entries.count)
        for (cidr, value, expiry) in entries { insert(cidr, value, expiresAt: expiry) }
    }

    @inline(__always)
    static func bit(_ high: UInt64, _ low: UInt64, _ i: Int) -> Int {
        i < 64 ? Int((high >> UInt64(63 - i)) & 1) : Int((low >> UInt64(127 - i)) & 1)
    }

    /// Number of leading bits (up to `limit`) on which two addresses agree.
    @inline(__always)
    static func common(_ ah: UInt64, _ al: UInt64, _ bh: UInt64, _ bl: UInt64, limit: Int) -> Int {
        let xh = ah ^ bh
        let n = xh != 0 ? xh.leadingZeroBitCount : 64 + (al ^ bl).leadingZeroBitCount
        return min(n, limit)
    }

    @inline(__always)
    static func masked(_ h: UInt64, _ l: UInt64, _ bits: Int) -> (UInt64, UInt64) {
        let (mh, ml) = CIDR.mask(bits)
        return (h & mh, l & ml)
    }

    /// Adds `cidr`; a prefix already present gets the new value (the later entry replaces it).
    /// `behind` (a value and its expiry) matches for the prefix once `value` has expired.
    public mutating func insert(_ cidr: CIDR, _ value: Value, expiresAt: Double? = nil, behind: (Value, Double?)? = nil) {
        let expiry = expiresAt ?? .infinity
        let h = cidr.network.high, l = cidr.network.low, len = cidr.bits
        var current = 0
        while true {
            let node = nodes[current]
            if Int(node.bits) == len {
                setValue(current, value, expiry, behind: behind)
                return
            }
            let b = Self.bit(h, l, Int(node.bits))
            let childIndex = b == 0 ? node.left : node.right
            if childIndex < 0 {
                let leaf = append(Node(high: h, low: l, bits: UInt8(len)), value, expiry, behind: behind)
                setChild(current, b, leaf)
                return
            }
            let child = nodes[Int(childIndex)]
            let shared = Self.common(child.high, child.low, h, l, limit: min(Int(child.bits), len))
            if shared == Int(child.bits) {
                current = Int(childIndex)
                continue
            }
            // Split the edge to `child` at `shared` bits.
            let (sh, sl) = Self.masked(h, l, shared)
            if shared == len {
                let mid = append(Node(high: sh, low: sl, bits: UInt8(shared)), value, expiry, behind: behind)
                setChild(Int(mid), Self.bit(child.high, child.low, shared), childIndex)
                setChild(current, b, mid)
            } else {
                let mid = append(Node(high: sh, low: sl, bits: UInt8(shared)), nil, expiry)
                setChild(Int(mid), Self.bit(child.high, child.low, shared), childIndex)
                let leaf = append(Node(high: h, low: l, bits: UInt8(len)), value, expiry, behind: behind)
                setChild(Int(mid), Self.bit(h, l, shared), leaf)
                setChild(current, b, mid)
            }
            return
        }
    }

    private mutating func append(_ node: Node, _ value: Value?, _ expiry: Double, behind: (Value, Double?)? = nil) -> Int32 {
        nodes.append(node)
        let index = nodes.count - 1
        if let value { setValue(index, value, expiry, behind: behind) }
        return Int32(index)
    }

    /// Stores `value` at node `index`, and `behindValue` (held apart) behind it, or nothing.
    private mutating func setValue(_ index: Int, _ value: Value, _ expiry: Double, behind behindValue: (Value, Double?)?) {
        let slot: Int
        if nodes[index].value >= 0 {
            slot = Int(nodes[index].value)
            values[slot] = value
            expiries[slot] = expiry
        } else {
            slot = values.count
            nodes[index].value = Int32(slot)
            values.append(value)
            expiries.append(expiry)
            behind.append(-1)
        }
        behind[slot] = -1
        if let (held, heldExpiry) = behindValue {
            values.append(held)
            expiries.append(heldExpiry ?? .infinity)
            behind.append(-1)
            behind[slot] = Int32(values.count - 1)
        }
    }

    private mutating func setChild(_ index: Int, _ bit: Int, _ child: Int32) {
        if bit == 0 { nodes[index].left = child } else { nodes[index].right = child }
    }

    /// The value of the most specific prefix containing `address` that has not expired at `now`.
    @inline(__always)
    public func longestMatch(_ address: IPAddress, now: Double = 0) -> Value? {
        longestMatchIndex(address, now: now).map { values[$0] }
    }

    /// The index (into `values`) of the most specific prefix containing `address` that has not
    /// expired at `now`, or nil.
    public func longestMatchIndex(_ address: IPAddress, now: Double = 0) -> Int? {
        let h = address.high, l = address.low
        return nodes.withUnsafeBufferPointer { nodes in
            expiries.withUnsafeBufferPointer { expiries in
                var best = -1
                var current = 0
                while true {
                    let node = nodes[current]
                    if node.value >= 0 {
                        if expiries[Int(node.value)] > now {
                            best = Int(node.value)
                        } else {
                            let b = Int(behind[Int(node.value)])
                            if b >= 0 && expiries[b] > now { best = b }
                        }
                    }
                    if node.bits >= 128 { break }
                    let next = Self.bit(h, l, Int(node.bits)) == 0 ? node.left : node.right
                    if next < 0 { break }
                    let child = nodes[Int(next)]
                    let (mh, ml) = CIDR.mask(Int(child.bits))
                    if h & mh != child.high || l & ml != child.low { break }
                    current = Int(next)
                }
                return best >= 0 ? best : nil
            }
        }
    }

    /// The value stored for exactly this prefix.
    public func exact(_ cidr: CIDR) -> Value? { exactIndex(cidr).map { values[$0] } }

    /// Makes the value stored for exactly `cidr` never match again (it keeps its index, so
    /// per-value side tables stay aligned). False when there is no such prefix.
    @discardableResult
    public mutating func tombstone(_ cidr: CIDR) -> Bool {
        guard let i = exactIndex(cidr) else { return false }
        expiries[i] = -.infinity
        behind[i] = -1
        return true
    }

    /// The index in `values` of exactly this prefix, if stored.
    public func exactIndex(_ cidr: CIDR) -> Int? {
        var current = 0
        while true {
            let node = nodes[current]
            if Int(node.bits) == cidr.bits {
                return node.high == cidr.network.high && node.low == cidr.network.low && node.value >= 0 ? Int(node.value) : nil
            }
            if Int(node.bits) > cidr.bits { return nil }
            let next = Self.bit(cidr.network.high, cidr.network.low, Int(node.bits)) == 0 ? node.left : node.right
            if next < 0 { return nil }
            let child = nodes[Int(next)]
            let (mh, ml) = CIDR.mask(Int(child.bits))
            if cidr.network.high & mh != child.high || cidr.network.low & ml != child.low { return nil }
            current = Int(next)
        }
    }
}
