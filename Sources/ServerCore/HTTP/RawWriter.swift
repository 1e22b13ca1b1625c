/// Appends bytes to memory the caller sized first (an upper bound of what it writes): a head
/// written with one `ByteBuffer` operation instead of one per piece, each of which costs a
/// capacity check, an exclusivity check and reference counting. Every put is checked against
/// the memory's size (a wrong bound traps instead of writing past it).
struct RawWriter {
    let base: UnsafeMutableRawPointer
    let capacity: Int
    var count = 0

    init(_ memory: UnsafeMutableRawBufferPointer) {
        base = memory.baseAddress!
        capacity = memory.count
    }

    @inline(__always)
    private func reserve(_ n: Int) {
        precondition(n <= capacity - count, "RawWriter: the caller's size bound is wrong")
    }

    @inline(__always)
    mutating func put(_ s: StaticString) {
        reserve(s.utf8CodeUnitCount)
        (base + count).copyMemory(from: s.utf8Start, byteCount: s.utf8CodeUnitCount)
        count += s.utf8CodeUnitCount
    }

    /// (Labelled: unlabelled, it would be the overload a string literal picks, whose bytes are
    /// then looked up at run time instead of copied as a constant.)
    @inline(__always)
    mutating func put(string s: String) {
        let done = s.utf8.withContiguousStorageIfAvailable { bytes in
            reserve(bytes.count)
            if let p = bytes.baseAddress { (base + count).copyMemory(from: p, byteCount: bytes.count) }
            return bytes.count
        }
        if let done {
            count += done
        } else {
            reserve(s.utf8.count)
            for b in s.utf8 {
                base.storeBytes(of: b, toByteOffset: count, as: UInt8.self)
                count += 1
            }
        }
    }

    @inline(__always)
    mutating func put(_ bytes: UnsafeRawBufferPointer) {
        reserve(bytes.count)
        if let p = bytes.baseAddress { (base + count).copyMemory(from: p, byteCount: bytes.count) }
        count += bytes.count
    }
}
