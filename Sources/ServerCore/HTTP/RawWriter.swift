/// Appends bytes to memory known to be large enough (the caller bounds what it writes first):
/// a head written with one `ByteBuffer` operation instead of one per piece, each of which costs
/// a capacity check, an exclusivity check and reference counting.
struct RawWriter {
    let base: UnsafeMutableRawPointer
    var count = 0

    @inline(__always)
    mutating func put(_ s: StaticString) {
        (base + count).copyMemory(from: s.utf8Start, byteCount: s.utf8CodeUnitCount)
        count += s.utf8CodeUnitCount
    }

    @inline(__always)
    mutating func put(_ s: String) {
        let done = s.utf8.withContiguousStorageIfAvailable { bytes in
            if let p = bytes.baseAddress { (base + count).copyMemory(from: p, byteCount: bytes.count) }
            return bytes.count
        }
        if let done {
            count += done
        } else {
            for b in s.utf8 {
                base.storeBytes(of: b, toByteOffset: count, as: UInt8.self)
                count += 1
            }
        }
    }

    @inline(__always)
    mutating func put(_ bytes: UnsafeRawBufferPointer) {
        if let p = bytes.baseAddress { (base + count).copyMemory(from: p, byteCount: bytes.count) }
        count += bytes.count
    }

    mutating func putField(_ name: String, _ value: String) {
        put(name)
        put(": ")
        put(value)
        put("\r\n")
    }
}
