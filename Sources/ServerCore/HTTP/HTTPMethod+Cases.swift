import NIOHTTP1

/// NIO's `HTTPMethod` has a `RAW(value:)` case, so its `==` compares raw value strings (about 100
/// instructions, on every request that asks): these match the case instead.
extension HTTPMethod {
    var isHEAD: Bool {
        if case .HEAD = self { return true }
        return false
    }

    var isGET: Bool {
        if case .GET = self { return true }
        return false
    }
}
